// The API under database faults on the shared server: a backend killed while its transaction
// is in flight (what a restart or failover does to every connection), and the listening
// connection of the event bus lost while the database refuses new connections for a while.
import { pino } from 'pino';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresBus, LISTENER_APPLICATION_NAME } from '../../src/events/event-bus.js';
import { startTestApi } from '../helpers/api.js';
import { createTestDatabase, queryAsOwner, SERVER_URL, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeItems, type TestTenant } from '../helpers/factories.js';
import { subscribeFeed } from '../helpers/ws.js';

const RECORD = `mutation($events: [InteractionInput!]!) { recordInteractions(events: $events) { count } }`;

async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('database faults', () => {
  let db: TestDatabase;
  let a: TestTenant;

  beforeAll(async () => {
    db = await createTestDatabase('api_db_faults');
    a = await createTestTenant(db.adminUrl, 4);
  });
  afterAll(async () => {
    await queryAsOwner(SERVER_URL, `ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`).catch(() => {});
    await db?.drop();
  });

  it('a backend killed mid-transaction fails that request as UNAVAILABLE; the process lives and the retry stores it once', async () => {
    const api = await startTestApi(db.appUrl);
    const owner = new pg.Client({ connectionString: db.adminUrl });
    await owner.connect();
    try {
      await api.gql(a.appKey, `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`, { items: makeItems(4, 4) });
      const events = [0, 1, 2, 3].map((i) => ({ userId: 'killed', itemId: `item-${i}`, kind: 'LIKE', eventId: `killed-${i}` }));
      // Hold the request inside its transaction: it waits for a lock the owner keeps.
      await owner.query('BEGIN; LOCK TABLE interactions IN ACCESS EXCLUSIVE MODE');
      const inFlight = api.gql(a.appKey, RECORD, { events });
      const pid = await waitFor(async () => {
        const { rows } = await owner.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND usename = 'tastegraph_app' AND wait_event_type = 'Lock'`,
          [db.name],
        );
        return rows[0]?.pid;
      }, 'the request to wait on the lock');
      await owner.query('SELECT pg_terminate_backend($1)', [pid]);
      const failed = await inFlight;
      expect(failed.status).toBe(503);
      expect(failed.errors![0].extensions).toMatchObject({ code: 'UNAVAILABLE' });
      expect(failed.errors![0].message).toMatch(/connection lost.*rolled back.*Retry/);
      await owner.query('ROLLBACK');

      // The same process answers the retry, which stores each event once.
      const retried = await api.gql(a.appKey, RECORD, { events });
      expect(retried.data.recordInteractions.count).toBe(4);
      const again = await api.gql(a.appKey, RECORD, { events });
      expect(again.data.recordInteractions.count).toBe(4);
      const stored = await queryAsOwner<{ event_id: string }>(
        db.adminUrl,
        `SELECT event_id FROM interactions WHERE event_id LIKE 'killed-%' ORDER BY event_id`,
      );
      expect(stored.map((r) => r.event_id)).toEqual(['killed-0', 'killed-1', 'killed-2', 'killed-3']);
    } finally {
      await owner.end();
      await api.stop();
    }
  });

  it('the event bus reconnects after an outage, says so meanwhile, and live feeds re-rank once it is back', async () => {
    const log = pino({ level: 'silent' });
    const api = await startTestApi(db.appUrl, { bus: await createPostgresBus(db.appUrl, log, { initialDelayMs: 20, maxDelayMs: 200 }) });
    // Opened before the outage: the owner's way to write while the database takes no new connections.
    const owner = new pg.Client({ connectionString: db.adminUrl });
    await owner.connect();
    await api.gql(a.appKey, `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`, { items: makeItems(4, 4, 'out') });
    const feed = subscribeFeed(api.wsUrl, a.appKey, 'outage');
    try {
      const initial = await feed.next();
      expect(initial.reason).toBe('INITIAL');
      expect(initial.ids).toContain('out-2');

      await queryAsOwner(SERVER_URL, `ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS false`);
      await owner.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`, [
        db.name,
        LISTENER_APPLICATION_NAME,
      ]);
      const health = () => fetch(api.url.replace('/graphql', '/health/ready')).then((r) => r.status);
      const metric = async () =>
        (await fetch(api.url.replace('/graphql', '/metrics')).then((r) => r.text())).match(/^tastegraph_event_bus_listening (\d)/m)?.[1];
      await waitFor(async () => (await health()) === 503, 'readiness to fail');
      expect(await metric()).toBe('0');
      // Several reconnects fail while the database refuses connections; the bus keeps trying.
      await new Promise((r) => setTimeout(r, 600));

      // A change made while this instance could not hear events: the user (not seen before)
      // dislikes an item of the feed.
      await owner.query(`INSERT INTO users (tenant_id, external_id) VALUES ($1, 'outage')`, [a.id]);
      // The event and the state it sets, as recordInteractions writes them.
      await owner.query(
        `WITH e AS (
           INSERT INTO interactions (tenant_id, user_id, item_id, kind)
           SELECT $1, u.id, i.id, 'DISLIKE' FROM users u, items i
            WHERE u.tenant_id = $1 AND u.external_id = 'outage' AND i.tenant_id = $1 AND i.external_id = 'out-2'
           RETURNING id, user_id, item_id, kind)
         INSERT INTO interaction_states (tenant_id, user_id, item_id, kind, interaction_id) SELECT $1, user_id, item_id, kind, id FROM e`,
        [a.id],
      );

      await queryAsOwner(SERVER_URL, `ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
      const resynced = await feed.next(10_000);
      expect(resynced.reason).toBe('RESYNC');
      expect(resynced.ids).not.toContain('out-2'); // ranked again: the disliked item is gone
      expect(await health()).toBe(200);
      expect(await metric()).toBe('1');
    } finally {
      await queryAsOwner(SERVER_URL, `ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
      await feed.client.dispose();
      await owner.end();
      await api.stop();
    }
  });
});
