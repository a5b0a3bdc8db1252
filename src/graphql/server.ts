// The HTTP server: Apollo Server at POST /graphql, graphql-ws on the same port and path,
// health probes beside them. Built from its dependencies; reads no configuration itself.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { adminPages } from '../http/admin-pages.js';
import { isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Services } from '../services/services.js';
import type { Viewer } from '../services/viewer.js';
import { createContext, type Context } from './context.js';
import { formatError, unavailableMessage, useErrorLogging } from './plugins/error-masking.js';
import { isDatabaseUnavailable } from '../services/storage-status.js';
import { isRateLimited } from '../services/rate-limits.js';
import { useQueryLimits } from './plugins/limits.js';
import { useHttpOperationsOnly } from './plugins/http-operations.js';
import { parseWithinLimits, type DocumentLimits } from './plugins/document-limits.js';
import { createWebSocketEndpoint } from './websocket.js';
import { useMetrics } from './plugins/metrics.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import { loadSchema } from './schema.js';
import { createSubscriptionCounter, type SubscriptionLimits } from './feed-subscription.js';

export interface ApiServerOptions {
  services: Services;
  log: Logger;
  maxBodyBytes: number;
  maxQueryDepth: number;
  maxQueryCost: number;
  /** Answers the readiness probe: resolves when the database can be reached. */
  checkReady: () => Promise<void>;
  /** Served at GET /metrics when given. */
  metrics?: ApiMetrics;
  /** Limits on the query text (config.documentLimits). */
  documentLimits: DocumentLimits;
  /** Limits of feedUpdated subscriptions (defaults when not given). */
  subscriptions?: Partial<SubscriptionLimits> & {
    subscriptionsPerConnection?: number;
    subscriptionsPerTenant?: number;
    subscriptionsPerKey?: number;
    socketsPerKey?: number;
  };
}

export interface ApiServer {
  httpServer: Server;
  listen(port: number, host: string): Promise<string>;
  stop(): Promise<void>;
  /** Open feedUpdated subscriptions on this instance. */
  openSubscriptions(): number;
  /** Open (authenticated) graphql-ws connections on this instance. */
  openSockets(): number;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

function jsonError(status: number, code: string, message: string) {
  return { status, body: { errors: [{ message, extensions: { code } as Record<string, unknown> }] } };
}

export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { services, log } = options;
  const schema = loadSchema();
  const httpServer = createServer();
  const counter = createSubscriptionCounter();
  const limits: SubscriptionLimits = {
    perConnection: options.subscriptions?.subscriptionsPerConnection ?? 20,
    perTenant: options.subscriptions?.subscriptionsPerTenant ?? 10_000,
    perKey: options.subscriptions?.subscriptionsPerKey ?? 2000,
    maxBufferedBytes: options.subscriptions?.maxBufferedBytes ?? 1024 * 1024,
  };
  const documentLimits = options.documentLimits;
  const operationLimits = { maxDepth: options.maxQueryDepth, maxCost: options.maxQueryCost };
  const ws = createWebSocketEndpoint(httpServer, {
    schema,
    services,
    log,
    maxPayloadBytes: options.maxBodyBytes,
    documentLimits,
    operationLimits,
    subscriptionLimits: limits,
    socketsPerKey: options.subscriptions?.socketsPerKey ?? 200,
    counter,
    ...(options.metrics ? { onOperation: (type: string, outcome: string) => options.metrics!.websocketOperations.inc({ type, outcome }) } : {}),
  });

  const apollo = new ApolloServer<Context>({
    schema,
    formatError,
    // Introspection stays on in production: tenants' tools (codegen, IDEs) read the schema.
    introspection: true,
    // The process's entry file owns shutdown. Apollo's own SIGTERM handler would call stop()
    // beside ours, and Apollo 5 never releases a second concurrent stop(): the process hung.
    stopOnTerminationSignals: false,
    // Stack traces are for the log, never for the client, whatever NODE_ENV says.
    includeStacktraceInErrorResponses: false,
    // The document was checked against these limits before Apollo saw it; this is the backstop.
    parseOptions: { maxTokens: documentLimits.maxTokens },
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // The hosted Sandbox page cannot load on machines without internet; use any GraphQL client.
      ApolloServerPluginLandingPageDisabled(),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await ws.dispose();
            },
          };
        },
      },
      // HTTP checks depth and cost in a plugin (Apollo would recode a validation rule's error
      // as GRAPHQL_VALIDATION_FAILED), once the variables are known.
      useQueryLimits(operationLimits),
      useHttpOperationsOnly(),
      useErrorLogging(),
      ...(options.metrics ? [useMetrics(options.metrics)] : []),
    ],
  });
  await apollo.start();

  const app = express();
  app.disable('x-powered-by');
  if (options.metrics) {
    const registry = options.metrics.registry;
    app.get('/metrics', async (_req, res) => {
      res.setHeader('content-type', registry.contentType);
      res.end(await registry.metrics());
    });
  }
  app.use('/admin', ...adminPages());
  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    try {
      await options.checkReady();
      res.json({ status: 'ok' });
    } catch (error) {
      log.warn({ err: error }, 'readiness check failed');
      res.status(503).json({ status: 'unavailable' });
    }
  });
  app.use('/graphql', (req, res, next) => {
    const given = req.header('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('x-request-id', requestId);
    next();
  });
  // Authentication runs before Apollo so that a bad key is a plain 401 with a clear message,
  // and a database outage during it is masked like any other unexpected error.
  const authenticate: RequestHandler = async (req, res, next) => {
    try {
      res.locals.viewer = await services.apiKeys.authenticate(req.headers.authorization);
      next();
    } catch (error) {
      if (isAppError(error)) {
        // RFC 9110 and 6750: a 401 names its scheme; invalid_token when a key was sent and refused.
        const sent = req.headers.authorization !== undefined;
        res.setHeader('www-authenticate', `Bearer realm="tastegraph"${sent ? ', error="invalid_token"' : ''}`);
        return void res.status(401).json(jsonError(401, error.code, error.message).body);
      }
      if (isDatabaseUnavailable(error)) {
        log.warn({ err: error, requestId: res.locals.requestId }, 'authentication failed: database unavailable');
        res.setHeader('retry-after', '1');
        return void res.status(503).json(jsonError(503, 'UNAVAILABLE', unavailableMessage(error)).body);
      }
      next(error);
    }
  };
  // The document's size, tokens and fields are checked before Apollo parses and validates it,
  // so an oversized query costs this process a linear scan, not seconds of validation.
  const checkDocument: RequestHandler = (req, res, next) => {
    const query = req.method === 'GET' ? req.query.query : (req.body as { query?: unknown } | undefined)?.query;
    if (typeof query !== 'string') return next();
    const parsed = parseWithinLimits(query, documentLimits);
    if (!('error' in parsed)) return next();
    const code = parsed.error.extensions.code as string;
    if (code === 'GRAPHQL_PARSE_FAILED') return next(); // Apollo answers syntax errors itself, with locations
    res.status(400).json(jsonError(400, code, parsed.error.message).body);
  };
  // Fair sharing: the key's and the tenant's rates, then a place among the tenant's running
  // operations, held until the response is done (or the client went away).
  const admit: RequestHandler = async (req, res, next) => {
    const viewer = res.locals.viewer as Viewer;
    try {
      services.admission.charge(viewer.tenantId, viewer.keyId);
      const release = await services.admission.enter(viewer.tenantId);
      res.once('close', release);
      next();
    } catch (error) {
      if (!isRateLimited(error)) return next(error);
      res.setHeader('retry-after', String(error.retryAfterSeconds));
      const body = jsonError(429, 'RATE_LIMITED', error.message).body;
      Object.assign(body.errors[0].extensions, { retryAfterSeconds: error.retryAfterSeconds });
      res.status(429).json(body);
    }
  };
  app.use(
    '/graphql',
    express.json({ limit: options.maxBodyBytes }),
    checkDocument,
    authenticate,
    admit,
    expressMiddleware(apollo, {
      context: async ({ res }) => createContext(services, res.locals.viewer as Viewer, res.locals.requestId as string, log),
    }),
  );
  // Body parser failures: too large, or not JSON. Everything else is unexpected.
  const onError: ErrorRequestHandler = (error: Error & { type?: string }, _req, res, _next) => {
    const reply =
      error.type === 'entity.too.large'
        ? jsonError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${options.maxBodyBytes} bytes`)
        : error.type === 'entity.parse.failed'
          ? jsonError(400, 'BAD_REQUEST', `request body is not valid JSON: ${error.message}`)
          : undefined;
    if (reply) return void res.status(reply.status).json(reply.body);
    const requestId = res.locals.requestId as string | undefined;
    log.error({ err: error, requestId }, 'unexpected HTTP error');
    const body = jsonError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error').body;
    Object.assign(body.errors[0].extensions, { requestId });
    res.status(500).json(body);
  };
  app.use(onError);
  httpServer.on('request', app);

  return {
    httpServer,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          const address = httpServer.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(`http://${shownHost === '0.0.0.0' ? 'localhost' : shownHost}:${address.port}/graphql`);
        });
      }),
    stop: () => apollo.stop(),
    openSubscriptions: () => counter.total(),
    openSockets: () => ws.openSockets(),
  };
}
