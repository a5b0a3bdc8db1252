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
import { specifiedRules, validate } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Services } from '../services/index.js';
import type { Viewer } from '../services/viewer.js';
import { createContext, type Context } from './context.js';
import { formatError, useErrorLogging } from './plugins/error-masking.js';
import { costLimitRule, depthLimitRule, useQueryLimits } from './plugins/limits.js';
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
  /** Limits of feedUpdated subscriptions (defaults when not given). */
  subscriptions?: Partial<SubscriptionLimits> & { subscriptionsPerConnection?: number; subscriptionsPerTenant?: number };
}

export interface ApiServer {
  httpServer: Server;
  listen(port: number, host: string): Promise<string>;
  stop(): Promise<void>;
  /** Open feedUpdated subscriptions on this instance. */
  openSubscriptions(): number;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

function jsonError(status: number, code: string, message: string) {
  return { status, body: { errors: [{ message, extensions: { code } as Record<string, unknown> }] } };
}

export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { services, log } = options;
  const schema = loadSchema();
  const httpServer = createServer();
  // HTTP checks depth and cost in one plugin (Apollo would recode a validation rule's error
  // as GRAPHQL_VALIDATION_FAILED); graphql-ws has no plugins, so there both are rules.
  const wsValidationRules = [depthLimitRule(options.maxQueryDepth), costLimitRule(options.maxQueryCost)];

  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: options.maxBodyBytes });
  const counter = createSubscriptionCounter();
  const limits: SubscriptionLimits = {
    perConnection: options.subscriptions?.subscriptionsPerConnection ?? 20,
    perTenant: options.subscriptions?.subscriptionsPerTenant ?? 10_000,
    coalesceMs: options.subscriptions?.coalesceMs ?? 25,
    maxBufferedBytes: options.subscriptions?.maxBufferedBytes ?? 1024 * 1024,
  };
  const wsCleanup = useServer<Record<string, unknown>, { viewer?: Viewer; open?: { subscriptions: number; bufferedAmount: () => number } }>(
    {
      schema,
      validate: (s, document) => validate(s, document, [...specifiedRules, ...wsValidationRules]),
      // The same API keys as HTTP, sent in connection_init's payload as { authorization: "Bearer ..." }.
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        try {
          ctx.extra.viewer = await services.apiKeys.authenticate(typeof authorization === 'string' ? authorization : undefined);
          return true;
        } catch (error) {
          if (!isAppError(error)) log.error({ err: error }, 'websocket authentication failed unexpectedly');
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      context: (ctx) => {
        // Per-connection state lives on the connection's `extra`, shared by its operations.
        ctx.extra.open ??= { subscriptions: 0, bufferedAmount: () => ctx.extra.socket.bufferedAmount };
        return createContext(services, ctx.extra.viewer!, randomUUID(), log, { limits, counter, connection: ctx.extra.open });
      },
      onNext: (_ctx, _id, _payload, args, result) => {
        if (!result.errors) return;
        const context = args.contextValue as Context;
        return {
          ...result,
          errors: result.errors.map((error) => {
            const formatted = formatError(error.toJSON(), error);
            if (formatted.extensions?.code === 'INTERNAL_SERVER_ERROR') {
              context.log.error({ err: error.originalError ?? error }, 'unexpected error in GraphQL operation');
              return { ...formatted, extensions: { ...formatted.extensions, requestId: context.requestId } };
            }
            return formatted;
          }),
        };
      },
    },
    wsServer,
  );

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
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // The hosted Sandbox page cannot load on machines without internet; use any GraphQL client.
      ApolloServerPluginLandingPageDisabled(),
      { async serverWillStart() { return { async drainServer() { await wsCleanup.dispose(); } }; } },
      useQueryLimits({ maxDepth: options.maxQueryDepth, maxCost: options.maxQueryCost }),
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
  app.get('/health/live', (_req, res) => { res.json({ status: 'ok' }); });
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
    res.locals.requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', res.locals.requestId);
    next();
  });
  // Authentication runs before Apollo so that a bad key is a plain 401 with a clear message,
  // and a database outage during it is masked like any other unexpected error.
  const authenticate: RequestHandler = async (req, res, next) => {
    try {
      res.locals.viewer = await services.apiKeys.authenticate(req.headers.authorization);
      next();
    } catch (error) {
      if (isAppError(error)) return void res.status(401).json(jsonError(401, error.code, error.message).body);
      next(error);
    }
  };
  app.use(
    '/graphql',
    express.json({ limit: options.maxBodyBytes }),
    authenticate,
    expressMiddleware(apollo, {
      context: async ({ res }) => createContext(services, res.locals.viewer as Viewer, res.locals.requestId as string, log),
    }),
  );
  // Body parser failures: too large, or not JSON. Everything else is unexpected.
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const reply =
      error.type === 'entity.too.large'
        ? jsonError(413, 'PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${options.maxBodyBytes} bytes`)
        : error.type === 'entity.parse.failed'
          ? jsonError(400, 'BAD_REQUEST', `request body is not valid JSON: ${error.message}`)
          : undefined;
    if (reply) return void res.status(reply.status).json(reply.body);
    log.error({ err: error, requestId: res.locals.requestId }, 'unexpected HTTP error');
    const body = jsonError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error').body;
    Object.assign(body.errors[0].extensions, { requestId: res.locals.requestId });
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
  };
}
