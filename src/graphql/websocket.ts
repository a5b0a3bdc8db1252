// GraphQL over WebSocket (graphql-ws) on the HTTP server's port and path. It applies what
// HTTP applies, in the same order: the key is checked again for every operation (a key
// revoked after the socket opened is refused from that moment, on every instance), the
// document limits before parsing goes far, validation, then depth and cost with the
// operation's variables; and errors leave with the same extensions.code as over HTTP.
import type { Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { execute, GraphQLError, getOperationAST, OperationTypeNode, specifiedRules, validate, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { AppError, isAppError } from '../errors.js';
import { isDatabaseUnavailable } from '../services/storage-status.js';
import type { Logger } from '../logger.js';
import type { Services } from '../services/services.js';
import type { Viewer } from '../services/viewer.js';
import { createContext, type Context } from './context.js';
import { createConnectionSubscriptions, type ConnectionSubscriptions, type SubscriptionCounter, type SubscriptionLimits } from './feed-subscription.js';
import { formatError, INTERNAL_ERROR } from './plugins/error-masking.js';
import { parseWithinLimits, type DocumentLimits } from './plugins/document-limits.js';
import { operationLimitError, type OperationLimits } from './plugins/limits.js';

export interface WebSocketEndpointOptions {
  schema: GraphQLSchema;
  services: Services;
  log: Logger;
  maxPayloadBytes: number;
  documentLimits: DocumentLimits;
  operationLimits: OperationLimits;
  subscriptionLimits: SubscriptionLimits;
  /** Open sockets one API key may hold on this instance. */
  socketsPerKey: number;
  counter: SubscriptionCounter;
  /** Told of every operation: its type, and ok or the code of the error that refused or failed it (metrics). */
  onOperation?: (type: string, outcome: string) => void;
}

/** ok, or the code the client is shown for the first error (as the HTTP metrics count it). */
function outcomeOf(errors: readonly GraphQLError[] | undefined): string {
  if (!errors?.length) return 'ok';
  const code = formatError(errors[0].toJSON(), errors[0].originalError ?? errors[0]).extensions?.code;
  return typeof code === 'string' ? code : INTERNAL_ERROR;
}

/** What one socket carries between its operations. */
interface Connection {
  authorization: string | undefined;
  viewer?: Viewer;
  subscriptions: ConnectionSubscriptions;
}

type Extra = { connection?: Connection; socket: { bufferedAmount: number; close(code: number, reason: string): void } };

/** An error thrown before execution, as graphql-ws sends it; format() gives it its code. */
const asGraphQLError = (error: unknown) => new GraphQLError(error instanceof Error ? error.message : String(error), { originalError: error as Error });

export function createWebSocketEndpoint(httpServer: Server, options: WebSocketEndpointOptions): { dispose(): Promise<void>; openSockets(): number } {
  const { schema, services, log } = options;
  const counted = (type: string, errors?: readonly GraphQLError[]) => {
    options.onOperation?.(type, outcomeOf(errors));
    return errors;
  };
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: options.maxPayloadBytes });
  // Open connections by API key, so that a revocation (from any instance, through the bus)
  // ends that key's live subscriptions at once instead of at their next event.
  const byKey = new Map<string, Set<Connection>>();
  const unsubscribe = services.bus.subscribe((event) => {
    if (event.type !== 'api-key-revoked') return;
    for (const connection of byKey.get(event.keyId) ?? []) {
      connection.subscriptions.endAll(new AppError('UNAUTHENTICATED', 'this API key has been revoked; its subscriptions have ended'));
    }
  });

  /** Formats errors as HTTP does; logs what is masked, under an id the client is shown. */
  function format(errors: readonly GraphQLError[], context: { log: Logger; requestId: string } | undefined): GraphQLFormattedError[] {
    return errors.map((error) => {
      // graphql-ws wraps an error thrown by a subscription's iterator without a path, which
      // Apollo's unwrapResolverError would not look through.
      const original = error.originalError ?? error;
      const formatted = formatError(error.toJSON(), error.path ? error : original);
      if (formatted.extensions?.code !== INTERNAL_ERROR) return formatted;
      const requestId = context?.requestId ?? randomUUID();
      (context?.log ?? log).error({ err: original, requestId }, 'unexpected error in GraphQL operation over WebSocket');
      return { ...formatted, extensions: { ...formatted.extensions, requestId } };
    });
  }

  const cleanup = useServer<Record<string, unknown>, Extra>(
    {
      schema,
      // The same API keys as HTTP, sent in connection_init's payload as { authorization: "Bearer ..." }.
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        const connection: Connection = {
          authorization: typeof authorization === 'string' ? authorization : undefined,
          subscriptions: createConnectionSubscriptions(() => ctx.extra.socket.bufferedAmount),
        };
        try {
          connection.viewer = await services.apiKeys.authenticate(connection.authorization);
        } catch (error) {
          if (isDatabaseUnavailable(error)) {
            // Not the key's fault: 1013 is WebSocket's "try again later", and clients retry it.
            log.warn({ err: error }, 'websocket authentication failed: database unavailable');
            ctx.extra.socket.close(1013, 'the database is unavailable; reconnect shortly');
          } else if (!isAppError(error)) {
            log.error({ err: error }, 'websocket authentication failed unexpectedly');
          }
          return false; // graphql-ws closes with 4403 Forbidden (a socket closed above stays closed as it was)
        }
        const keyId = connection.viewer.keyId;
        if ((byKey.get(keyId)?.size ?? 0) >= options.socketsPerKey) {
          // graphql-ws can only refuse with 4403; this says why, with the code for "too many".
          ctx.extra.socket.close(4429, `too many open WebSockets for this API key (SOCKETS_PER_KEY=${options.socketsPerKey})`);
          return false;
        }
        ctx.extra.connection = connection;
        if (!byKey.has(keyId)) byKey.set(keyId, new Set());
        byKey.get(keyId)!.add(connection);
        return true;
      },
      onClose: (ctx) => {
        const connection = ctx.extra.connection;
        if (!connection?.viewer) return;
        const set = byKey.get(connection.viewer.keyId);
        set?.delete(connection);
        if (set?.size === 0) byKey.delete(connection.viewer.keyId);
      },
      onSubscribe: async (ctx, _id, payload) => {
        const connection = ctx.extra.connection!;
        let viewer: Viewer;
        try {
          // Every operation is authorized as an HTTP request would be: a revoked key stops here.
          viewer = await services.apiKeys.authenticate(connection.authorization);
          services.admission.charge(viewer.tenantId, viewer.keyId);
        } catch (error) {
          // UNAUTHENTICATED and RATE_LIMITED keep their codes, an outage is UNAVAILABLE, and
          // anything else is masked and logged, as over HTTP.
          return counted('unknown', [asGraphQLError(error)]);
        }
        const parsed = parseWithinLimits(payload.query, options.documentLimits);
        if ('error' in parsed) return counted('unknown', [parsed.error]);
        const invalid = validate(schema, parsed.document, specifiedRules);
        if (invalid.length > 0) {
          return counted(
            'unknown',
            invalid.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' } })),
          );
        }
        const operation = getOperationAST(parsed.document, payload.operationName);
        if (!operation) return counted('unknown', [new GraphQLError('Unable to identify operation', { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })]);
        const tooMuch = operationLimitError(parsed.document, operation, payload.variables ?? {}, options.operationLimits);
        if (tooMuch) return counted(operation.operation, [tooMuch]);
        // A subscription is counted as it starts; a query or mutation once it has run (execute below).
        if (operation.operation === OperationTypeNode.SUBSCRIPTION) counted(operation.operation);
        const contextValue = createContext(services, viewer, randomUUID(), log, {
          limits: options.subscriptionLimits,
          counter: options.counter,
          connection: connection.subscriptions,
        });
        return { schema, document: parsed.document, operationName: payload.operationName, variableValues: payload.variables, contextValue };
      },
      // Queries and mutations over a socket take a place among their tenant's running
      // operations, as HTTP requests do; a subscription's rankings take theirs one at a time.
      execute: async (args) => {
        const tenantId = (args.contextValue as Context).viewer.tenantId;
        const type = getOperationAST(args.document, args.operationName)?.operation ?? 'unknown';
        let release: () => void;
        try {
          release = await services.admission.enter(tenantId);
        } catch (error) {
          return { errors: counted(type, [asGraphQLError(error)]) };
        }
        try {
          const result = await execute(args);
          counted(type, 'errors' in result ? result.errors : undefined);
          return result;
        } finally {
          release();
        }
      },
      onNext: (_ctx, _id, _payload, args, result) => {
        if (!result.errors) return;
        return { ...result, errors: format(result.errors, args.contextValue as Context) };
      },
      onError: (_ctx, _id, _payload, errors) => format(errors, undefined),
    },
    wsServer,
  );

  return {
    async dispose() {
      unsubscribe();
      await cleanup.dispose();
    },
    openSockets: () => [...byKey.values()].reduce((n, set) => n + set.size, 0),
  };
}
