// A real API server on an ephemeral port, and a tiny GraphQL-over-HTTP client for it.
import { pino } from 'pino';
import { createDatabase, type Database } from '../../src/repositories/database.js';
import { createApiServer } from '../../src/graphql/server.js';
import { createServices } from '../../src/services/index.js';
import type { Scorer } from '../../src/inference/scorer.js';
import { createApiMetrics } from '../../src/metrics/api-metrics.js';

export interface TestApi {
  url: string;
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
  errors?: { message: string; path?: string[]; extensions?: { code?: string; problems?: { field: string; index?: number; message: string }[]; requestId?: string } }[];
}

export async function startTestApi(
  connectionString: string,
  limits: { maxBodyBytes?: number; maxQueryDepth?: number; maxQueryCost?: number; assumeRole?: string; scorer?: Scorer; subscriptionsPerConnection?: number } = {},
): Promise<TestApi> {
  const db = createDatabase({ connectionString, poolSize: 8, assumeRole: limits.assumeRole });
  const log = pino({ level: 'silent' });
  const metrics = createApiMetrics();
  const onScored = (outcome: 'model' | 'fallback', users: number) => metrics.scoredUsers.inc({ outcome }, users);
  const server = await createApiServer({
    metrics,
    services: createServices(db, { scoring: limits.scorer && { scorer: limits.scorer, historyPerKind: 8, timeoutMs: 1000, log, onScored } }),
    log,
    maxBodyBytes: limits.maxBodyBytes ?? 16 * 1024 * 1024,
    maxQueryDepth: limits.maxQueryDepth ?? 10,
    maxQueryCost: limits.maxQueryCost ?? 50_000,
    subscriptions: { subscriptionsPerConnection: limits.subscriptionsPerConnection, coalesceMs: 10 },
    checkReady: async () => {},
  });
  const url = await server.listen(0, '127.0.0.1');
  return {
    url,
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
      await db.close();
    },
  };
}
