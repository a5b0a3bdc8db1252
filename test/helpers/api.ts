// A real API server on an ephemeral port, and a tiny GraphQL-over-HTTP client for it.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { createDatabase, type Database } from '../../src/repositories/database.js';
import { createApiServer } from '../../src/graphql/server.js';
import { createServices, type Services } from '../../src/apps/wiring/services.js';
import type { ArtifactStore } from '../../src/training/artifact-store.js';
import type { Scorer } from '../../src/inference/scorer.js';
import { createInProcessBus, type EventBus } from '../../src/events/event-bus.js';
import { createReadinessCheck } from '../../src/apps/wiring/readiness.js';
import type { RateLimitPolicy } from '../../src/services/rate-limits.js';
import { createApiMetrics } from '../../src/metrics/api-metrics.js';
import { loadConfig } from '../../src/config.js';
import type { DocumentLimits } from '../../src/graphql/plugins/document-limits.js';

export interface TestApi {
  url: string;
  services: Services;
  /** Open feedUpdated subscriptions on this server. */
  openSubscriptions(): number;
  wsUrl: string;
  db: Database;
  gql<T = any>(key: string | undefined, query: string, variables?: Record<string, unknown>): Promise<GqlResponse<T>>;
  stop(): Promise<void>;
}

export interface GqlResponse<T> {
  status: number;
  data?: T;
  errors?: {
    message: string;
    path?: string[];
    extensions?: { code?: string; problems?: { field: string; index?: number; message: string }[]; requestId?: string };
  }[];
}

export async function startTestApi(
  connectionString: string,
  limits: {
    maxBodyBytes?: number;
    maxQueryDepth?: number;
    maxQueryCost?: number;
    documentLimits?: Partial<DocumentLimits>;
    assumeRole?: string;
    scorer?: Scorer;
    /** The scoring deadline (1,000 ms when not given, the API's default). */
    scoringTimeoutMs?: number;
    subscriptionsPerConnection?: number;
    /** Where the server logs (silent when not given); see captureLog. */
    log?: Logger;
    /** The event bus (in process when not given); a PostgreSQL bus joins instances. */
    bus?: EventBus;
    /** Rate limits and per-tenant concurrency (off when not given). */
    rateLimits?: RateLimitPolicy;
    subscriptionsPerKey?: number;
    socketsPerKey?: number;
    /** The tenants' model store (promoteModelVersion needs it). */
    artifacts?: ArtifactStore;
  } = {},
): Promise<TestApi> {
  const db = createDatabase({ connectionString, poolSize: 8, assumeRole: limits.assumeRole });
  const log = limits.log ?? pino({ level: 'silent' });
  const bus = limits.bus ?? createInProcessBus();
  let live = () => ({ sockets: 0, subscriptions: 0 });
  const metrics = createApiMetrics({ busStatus: () => bus.status(), poolStats: () => db.poolStats(), liveConnections: () => live() });
  const onScored = (outcome: 'model' | 'fallback', users: number) => metrics.scoredUsers.inc({ outcome }, users);
  const services = createServices(db, {
    bus,
    rateLimits: limits.rateLimits,
    feed: { coalesceMs: 10 },
    artifacts: limits.artifacts,
    scoring: limits.scorer && { scorer: limits.scorer, historyPerKind: 8, timeoutMs: limits.scoringTimeoutMs ?? 1000, log, onScored },
  });
  const server = await createApiServer({
    metrics,
    services,
    log,
    maxBodyBytes: limits.maxBodyBytes ?? 16 * 1024 * 1024,
    maxQueryDepth: limits.maxQueryDepth ?? 10,
    maxQueryCost: limits.maxQueryCost ?? 50_000,
    documentLimits: { ...loadConfig({}).documentLimits, ...limits.documentLimits },
    subscriptions: {
      subscriptionsPerConnection: limits.subscriptionsPerConnection,
      subscriptionsPerKey: limits.subscriptionsPerKey,
      socketsPerKey: limits.socketsPerKey,
    },
    checkReady: createReadinessCheck(db, bus),
  });
  live = () => ({ sockets: server.openSockets(), subscriptions: server.openSubscriptions() });
  const url = await server.listen(0, '127.0.0.1');
  return {
    url,
    services,
    openSubscriptions: () => server.openSubscriptions(),
    wsUrl: url.replace(/^http/, 'ws'),
    db,
    async gql(key, query, variables) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, ...(await response.json()) };
    },
    async stop() {
      await server.stop();
      await bus.close();
      await db.close();
    },
  };
}

/** A logger whose lines are kept, parsed, for a test to assert what was logged. */
export function captureLog(): { log: Logger; lines: Record<string, any>[] } {
  const lines: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}
