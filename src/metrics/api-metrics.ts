// Prometheus metrics of the API process (one registry per server, so tests can run several).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import type { BusStatus } from '../events/event-bus.js';
import type { PoolStats } from '../repositories/database.js';

export interface ApiMetricsOptions {
  defaultMetrics?: boolean;
  feedIndexBytes?: () => number;
  /** The event bus's state, read at each scrape. */
  busStatus?: () => BusStatus;
  /** The database pool's connections, read at each scrape. */
  poolStats?: () => PoolStats;
  /** Open WebSockets and feedUpdated subscriptions on this instance, read at each scrape. */
  liveConnections?: () => { sockets: number; subscriptions: number };
}

export function createApiMetrics(options: ApiMetricsOptions = {}) {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const feedIndexBytes = options.feedIndexBytes;
  if (feedIndexBytes) {
    new Gauge({
      name: 'tastegraph_feed_index_bytes',
      help: "Memory the tenants' vector indexes take in this process (bounded by FEED_INDEX_MAX_MB)",
      registers: [registry],
      collect() {
        this.set(feedIndexBytes());
      },
    });
  }
  const busStatus = options.busStatus;
  if (busStatus) {
    new Gauge({
      name: 'tastegraph_event_bus_listening',
      help: "1 while this instance receives other instances' events (LISTEN connection up), else 0",
      registers: [registry],
      collect() {
        this.set(busStatus().listening ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tastegraph_event_bus_reconnects',
      help: 'Times the LISTEN connection was lost and opened again since start',
      registers: [registry],
      collect() {
        this.set(busStatus().reconnects);
      },
    });
  }
  const poolStats = options.poolStats;
  if (poolStats) {
    new Gauge({
      name: 'tastegraph_database_pool_connections',
      help: 'Database pool connections by state: open, in_use (checked out by a request), waiting (requests queued for one)',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const stats = poolStats();
        this.set({ state: 'open' }, stats.open);
        this.set({ state: 'in_use' }, stats.inUse);
        this.set({ state: 'waiting' }, stats.waiting);
      },
    });
  }
  const liveConnections = options.liveConnections;
  if (liveConnections) {
    new Gauge({
      name: 'tastegraph_websocket_connections',
      help: 'Open graphql-ws connections (authenticated) on this instance',
      registers: [registry],
      collect() {
        this.set(liveConnections().sockets);
      },
    });
    new Gauge({
      name: 'tastegraph_subscriptions_open',
      help: 'Open feedUpdated subscriptions on this instance',
      registers: [registry],
      collect() {
        this.set(liveConnections().subscriptions);
      },
    });
  }
  return {
    registry,
    websocketOperations: new Counter({
      name: 'tastegraph_websocket_operations_total',
      help: 'GraphQL operations over graphql-ws, by type and outcome (ok, or the code of the error that refused it)',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    backgroundErrors: new Counter({
      name: 'tastegraph_background_errors_total',
      help: 'Failures of background work (logged with context), by component',
      labelNames: ['component'],
      registers: [registry],
    }),
    databaseConnectionErrors: new Counter({
      name: 'tastegraph_database_connection_errors_total',
      help: 'Database connections lost (server restart, failover, killed backend), in requests or idle in the pool',
      registers: [registry],
    }),
    operations: new Counter({
      name: 'tastegraph_graphql_operations_total',
      help: 'GraphQL operations by type and outcome (ok, or the first error code)',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'tastegraph_graphql_operation_seconds',
      help: 'GraphQL operation latency by type',
      labelNames: ['type'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    indexEvictions: new Counter({
      name: 'tastegraph_feed_index_evictions_total',
      help: "Tenants' vector indexes dropped to stay within FEED_INDEX_MAX_MB (rebuilt on their next feed)",
      registers: [registry],
    }),
    indexPartitionings: new Counter({
      name: 'tastegraph_feed_index_partitionings_total',
      help: "Tenants' vector indexes that tried partitioning, when past FEED_INDEX_PARTITION_FLOATS (trigger size) or when their partitions missed on a later check (trigger recall): kept (approximate scans) or declined (scanned whole)",
      labelNames: ['outcome', 'trigger'],
      registers: [registry],
    }),
    scoredUsers: new Counter({
      name: 'tastegraph_scored_users_total',
      help: 'Users scored, by the model or by the history-centroid fallback',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
