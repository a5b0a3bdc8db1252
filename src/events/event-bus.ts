// Typed events between parts of the platform and across API instances. In the embedded
// default everything lives in one process; with a PostgreSQL server, events cross instances
// through LISTEN/NOTIFY on one channel (no extra broker to run).
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../logger.js';

export type PlatformEvent =
  | { type: 'interactions-recorded'; tenantId: string; userIds: string[] }
  /** itemIds: the rows written (internal ids), so live feeds can score just those. */
  | { type: 'items-upserted'; tenantId: string; itemIds: number[] }
  /** A model version now serves: a tenant's own (tenantId set), or the shipped base model (unset). */
  | { type: 'model-promoted'; tenantId?: string; version: string }
  /** A training run was queued (startTraining): the jobs process sends its job. */
  | { type: 'training-requested'; tenantId: string; runId: string }
  /** A training run moved on (started, a stage or an epoch, its end): trainingRunUpdated pushes it. */
  | { type: 'training-run-changed'; tenantId: string; runId: string }
  | { type: 'api-key-revoked'; tenantId: string; keyId: string }
  /** A user was erased (deleteUser): their live feeds end, caches that held them forget. */
  | { type: 'user-erased'; tenantId: string; userId: string }
  /** Items were deleted (internal ids): vector indexes drop them, live feeds rank again. */
  | { type: 'items-deleted'; tenantId: string; itemIds: number[] }
  /** An operator deleted the tenant (npm run tenant:delete): everything of it ends. */
  | { type: 'tenant-deleted'; tenantId: string }
  /** A tenant's users were grouped again (a new snapshot), with their embeddings refreshed first. */
  | { type: 'taste-groups-refreshed'; tenantId: string; snapshotId: string }
  /**
   * What one API instance's rate limits let through since its last report, per API key and
   * per tenant: the others take it from their own buckets, so a limit holds across instances.
   */
  | { type: 'rate-usage'; instanceId: string; used: [scope: 'key' | 'tenant', id: string, operations: number][] }
  /**
   * Local only, never sent: this instance's listening connection came back after a gap in
   * which other instances' events may have been missed, so whatever they refresh (live
   * feeds, vector indexes) must refresh now.
   */
  | { type: 'bus-resynced' };

export interface BusStatus {
  /** Events from other instances arrive (always true in process). */
  listening: boolean;
  /** When listening stopped, while it is stopped. */
  downSince: Date | null;
  /** Times the listening connection was lost and opened again. */
  reconnects: number;
}

export interface EventBus {
  publish(event: PlatformEvent): Promise<void>;
  subscribe(handler: (event: PlatformEvent) => void): () => void;
  status(): BusStatus;
  close(): Promise<void>;
}

export const CHANNEL = 'tastegraph_events';
export const LISTENER_APPLICATION_NAME = 'tastegraph-listen';
// NOTIFY payloads must stay under 8000 bytes. A burst touching many users (ids of up to 256
// characters, up to 768 bytes of UTF-8 each) or items is sent as one event per slice, each
// slice filled up to this many bytes of its list.
const MAX_LIST_BYTES = 6000;

/** Splits a list into runs whose JSON takes at most MAX_LIST_BYTES (never an empty run list). */
function sliceByBytes<T>(list: readonly T[]): T[][] {
  const out: T[][] = [];
  let run: T[] = [];
  let bytes = 0;
  for (const entry of list) {
    const size = Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (run.length > 0 && bytes + size > MAX_LIST_BYTES) {
      out.push(run);
      run = [];
      bytes = 0;
    }
    run.push(entry);
    bytes += size;
  }
  out.push(run);
  return out;
}

function slices(event: PlatformEvent): PlatformEvent[] {
  if (event.type === 'interactions-recorded') return sliceByBytes(event.userIds).map((userIds) => ({ ...event, userIds }));
  if (event.type === 'items-upserted') return sliceByBytes(event.itemIds).map((itemIds) => ({ ...event, itemIds }));
  if (event.type === 'items-deleted') return sliceByBytes(event.itemIds).map((itemIds) => ({ ...event, itemIds }));
  if (event.type === 'rate-usage') return sliceByBytes(event.used).map((used) => ({ ...event, used }));
  return [event];
}

/**
 * Sends an event through the caller's connection or pool. On a connection inside a transaction
 * PostgreSQL delivers it with the commit and drops it with a rollback: operator commands, which
 * run outside any API process, tell the instances so.
 */
export async function notify(client: Pick<pg.ClientBase, 'query'>, event: PlatformEvent): Promise<void> {
  for (const part of slices(event)) await client.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(part)]);
}

export function createInProcessBus(): EventBus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    async publish(event) {
      emitter.emit('event', event);
    },
    subscribe(handler) {
      emitter.on('event', handler);
      return () => emitter.off('event', handler);
    },
    status: () => ({ listening: true, downSince: null, reconnects: 0 }),
    async close() {
      emitter.removeAllListeners();
    },
  };
}

export interface ReconnectPolicy {
  /** First wait after the connection is lost (ms); doubles per failed attempt. */
  initialDelayMs: number;
  maxDelayMs: number;
}

const DEFAULT_RECONNECT: ReconnectPolicy = { initialDelayMs: 100, maxDelayMs: 5000 };

/**
 * LISTEN on one dedicated connection; NOTIFY through a small pool. Every instance, the
 * publisher included, receives each event from PostgreSQL, so local and remote subscribers
 * see the same stream. A lost listening connection is opened again with backoff (with
 * jitter, doubling to maxDelayMs) for as long as it takes; meanwhile status() says it is
 * down (readiness fails), and once back a local `bus-resynced` event makes everything that
 * events refresh refresh, since events sent during the gap were missed.
 */
export async function createPostgresBus(connectionString: string, log: Logger, reconnect: ReconnectPolicy = DEFAULT_RECONNECT): Promise<EventBus> {
  const local = createInProcessBus();
  const notifier = new pg.Pool({ connectionString, max: 2, connectionTimeoutMillis: 5000 });
  notifier.on('error', (error) => log.warn({ err: error }, 'event bus: idle notify connection failed'));
  let listener: pg.Client | undefined;
  let closed = false;
  let downSince: Date | null = null;
  let reconnects = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  async function listen(): Promise<void> {
    // Named, so that operators (and the fault tests) can tell it in pg_stat_activity.
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5000, application_name: LISTENER_APPLICATION_NAME });
    client.on('notification', (message) => {
      try {
        void local.publish(JSON.parse(message.payload ?? '') as PlatformEvent);
      } catch (error) {
        log.warn({ err: error }, 'event bus: unreadable notification dropped');
      }
    });
    // Registered before connect: an error while connecting or later must never go unhandled.
    const onLost = (error: Error) => {
      if (listener !== client) return; // a failed attempt: its own catch below schedules the next
      listener = undefined;
      lost(error);
    };
    client.on('error', onLost);
    client.on('end', () => onLost(new Error('listening connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      client.end().catch(() => {});
      throw error;
    }
    if (closed) {
      await client.end().catch(() => {});
      return;
    }
    listener = client;
  }

  function lost(error: Error): void {
    if (closed) return;
    downSince = new Date();
    log.error({ err: error }, "event bus: listening connection lost; live feeds on this instance miss other instances' events until it is back");
    retry(1);
  }

  function retry(attempt: number): void {
    const base = Math.min(reconnect.maxDelayMs, reconnect.initialDelayMs * 2 ** (attempt - 1));
    const delay = base / 2 + Math.random() * (base / 2);
    retryTimer = setTimeout(() => {
      listen().then(
        () => {
          if (closed) return;
          const downMs = Date.now() - (downSince?.getTime() ?? Date.now());
          downSince = null;
          reconnects++;
          log.info({ attempt, downMs }, 'event bus: listening again; live feeds re-rank for what they may have missed');
          void local.publish({ type: 'bus-resynced' });
        },
        (error: Error) => {
          if (closed) return;
          // Logged at each attempt with doubling delays: about one line per 5 s at most.
          log.warn({ err: error, attempt, nextInMs: Math.min(reconnect.maxDelayMs, base * 2) }, 'event bus: reconnecting failed; trying again');
          retry(attempt + 1);
        },
      );
    }, delay);
    retryTimer.unref();
  }

  await listen();

  return {
    // Events refresh views; the write they follow has committed. A failed NOTIFY is logged,
    // never thrown back into the request that made the write.
    async publish(event) {
      try {
        await notify(notifier, event);
      } catch (error) {
        log.error({ err: error, event: event.type }, 'event bus: NOTIFY failed; subscribers on other instances miss this event');
        await local.publish(event);
      }
    },
    subscribe: (handler) => local.subscribe(handler),
    status: () => ({ listening: listener !== undefined, downSince, reconnects }),
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      await listener?.end().catch(() => {});
      listener = undefined;
      await notifier.end();
      await local.close();
    },
  };
}
