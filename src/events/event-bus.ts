// Typed events between parts of the platform and across API instances. In the embedded
// default everything lives in one process; with a PostgreSQL server, events cross instances
// through LISTEN/NOTIFY on one channel (no extra broker to run).
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../logger.js';

export type PlatformEvent =
  | { type: 'interactions-recorded'; tenantId: string; userIds: string[] }
  | { type: 'items-upserted'; tenantId: string }
  | { type: 'model-promoted'; version: string }
  | { type: 'api-key-revoked'; tenantId: string; keyId: string };

export interface EventBus {
  publish(event: PlatformEvent): Promise<void>;
  subscribe(handler: (event: PlatformEvent) => void): () => void;
  close(): Promise<void>;
}

export const CHANNEL = 'tastegraph_events';
// NOTIFY payloads must stay under 8000 bytes; a burst touching more users is sent as one
// event per slice.
const MAX_USERS_PER_EVENT = 100;

function slices(event: PlatformEvent): PlatformEvent[] {
  if (event.type !== 'interactions-recorded' || event.userIds.length <= MAX_USERS_PER_EVENT) return [event];
  const out: PlatformEvent[] = [];
  for (let i = 0; i < event.userIds.length; i += MAX_USERS_PER_EVENT) {
    out.push({ ...event, userIds: event.userIds.slice(i, i + MAX_USERS_PER_EVENT) });
  }
  return out;
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
    async close() {
      emitter.removeAllListeners();
    },
  };
}

/**
 * LISTEN on one dedicated connection; NOTIFY through a small pool. Every instance, the
 * publisher included, receives each event from PostgreSQL, so local and remote subscribers
 * see the same stream. The listening connection reconnects after an error.
 */
export async function createPostgresBus(connectionString: string, log: Logger): Promise<EventBus> {
  const local = createInProcessBus();
  const notifier = new pg.Pool({ connectionString, max: 2 });
  notifier.on('error', (error) => log.warn({ err: error }, 'event bus: idle notify connection failed'));
  let listener: pg.Client | undefined;
  let closed = false;

  async function listen(): Promise<void> {
    const client = new pg.Client({ connectionString });
    client.on('notification', (message) => {
      try {
        void local.publish(JSON.parse(message.payload ?? '') as PlatformEvent);
      } catch (error) {
        log.warn({ err: error }, 'event bus: unreadable notification dropped');
      }
    });
    client.on('error', (error) => {
      log.error({ err: error }, 'event bus: listening connection lost; reconnecting');
      listener = undefined;
      if (!closed) setTimeout(() => void listen().catch(() => {}), 1000);
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    listener = client;
  }
  await listen();

  return {
    // Events refresh views; the write they follow has committed. A failed NOTIFY is logged,
    // never thrown back into the request that made the write.
    async publish(event) {
      try {
        for (const part of slices(event)) await notifier.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(part)]);
      } catch (error) {
        log.error({ err: error, event: event.type }, 'event bus: NOTIFY failed; subscribers on other instances miss this event');
        await local.publish(event);
      }
    },
    subscribe: (handler) => local.subscribe(handler),
    async close() {
      closed = true;
      await listener?.end().catch(() => {});
      await notifier.end();
      await local.close();
    },
  };
}
