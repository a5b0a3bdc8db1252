// Fair sharing between tenants and keys: rates per key and per tenant (RATE_LIMITED with a
// retry-after, on HTTP and WebSocket), a bounded number of a tenant's operations running at
// once (the rest wait in that tenant's own queue), and sockets and subscriptions per key.
import pg from 'pg';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi } from '../helpers/api.js';
import { createTestDatabase, queryAsOwner, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeItems, type TestTenant } from '../helpers/factories.js';
import { connectWs, runOn, subscribeFeed } from '../helpers/ws.js';
import type { RateLimitPolicy } from '../../src/services/rate-limits.js';

const OFF = { perSecond: 0, burst: 1 };
const NO_GATE = { maxInFlight: 0, maxQueued: 0 };
const ITEMS = `{ items(first: 1) { edges { node { externalId } } } }`;

describe('fair sharing', () => {
  let db: TestDatabase;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    db = await createTestDatabase('api_fair');
    a = await createTestTenant(db.adminUrl, 4);
    b = await createTestTenant(db.adminUrl, 4);
    const api = await startTestApi(db.appUrl);
    for (const t of [a, b])
      await api.gql(t.appKey, `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`, { items: makeItems(3, 4) });
    await api.stop();
  });
  afterAll(() => db?.drop());

  async function withApi(
    rateLimits: RateLimitPolicy,
    fn: (api: Awaited<ReturnType<typeof startTestApi>>) => Promise<void>,
    extra: Parameters<typeof startTestApi>[1] = {},
  ) {
    const api = await startTestApi(db.appUrl, { rateLimits, ...extra });
    try {
      await fn(api);
    } finally {
      await api.stop();
    }
  }

  it("a key past its rate gets RATE_LIMITED with a retry-after, on both transports; the tenant's other key does not", async () => {
    await withApi({ perKey: { perSecond: 1, burst: 3 }, perTenant: OFF, gate: NO_GATE }, async (api) => {
      for (let i = 0; i < 3; i++) expect((await api.gql(a.appKey, ITEMS)).errors).toBeUndefined();
      const limited = await api.gql(a.appKey, ITEMS);
      expect(limited.status).toBe(429);
      expect(limited.errors![0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
      expect(limited.errors![0].message).toMatch(/rate limit of this API key \(1 operations per second, bursts of 3\)/);
      const client = connectWs(api.wsUrl, a.appKey);
      try {
        const ws = await runOn(client, ITEMS);
        expect(ws.errors![0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: 1 });
      } finally {
        await client.dispose();
      }
      expect((await api.gql(a.adminKey, ITEMS)).errors).toBeUndefined();
    });
  });

  it('a tenant past its rate is limited on every key, and another tenant is not', async () => {
    await withApi({ perKey: OFF, perTenant: { perSecond: 1, burst: 2 }, gate: NO_GATE }, async (api) => {
      await api.gql(a.appKey, ITEMS);
      await api.gql(a.adminKey, ITEMS);
      expect((await api.gql(a.adminKey, ITEMS)).errors![0].extensions!.code).toBe('RATE_LIMITED');
      expect((await api.gql(a.appKey, ITEMS)).errors![0].message).toMatch(/rate limit of this tenant/);
      expect((await api.gql(b.appKey, ITEMS)).errors).toBeUndefined();
    });
  });

  it("a tenant's operations beyond its running limit wait in its own queue; another tenant's go ahead", async () => {
    await withApi({ perKey: OFF, perTenant: OFF, gate: { maxInFlight: 1, maxQueued: 1 } }, async (api) => {
      const owner = new pg.Client({ connectionString: db.adminUrl });
      await owner.connect();
      try {
        // A's first mutation holds A's one place, waiting on a lock inside its transaction.
        await owner.query('BEGIN; LOCK TABLE interactions IN ACCESS EXCLUSIVE MODE');
        const record = (id: string) =>
          api.gql(a.appKey, `mutation { recordInteraction(event: { userId: "q", itemId: "item-0", kind: LIKE, eventId: "${id}" }) { id } }`);
        const first = record('gate-1');
        for (let i = 0; i < 200; i++) {
          const waiting = await queryAsOwner<{ n: number }>(
            db.adminUrl,
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
            [db.name],
          );
          if (waiting[0].n > 0) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        const second = record('gate-2'); // waits in A's queue, not in the database
        await new Promise((r) => setTimeout(r, 50));
        const third = await api.gql(a.appKey, ITEMS); // A's queue is full
        expect(third.status).toBe(429);
        expect(third.errors![0].message).toMatch(/already has 1 operations running and 1 waiting/);
        // B is not behind A's queue.
        expect((await api.gql(b.appKey, ITEMS)).data.items.edges).toHaveLength(1);
        await owner.query('COMMIT');
        expect((await first).errors).toBeUndefined();
        expect((await second).errors).toBeUndefined();
      } finally {
        await owner.end();
      }
    });
  });

  it('bounds the sockets and the subscriptions of one key', async () => {
    await withApi(
      { perKey: OFF, perTenant: OFF, gate: NO_GATE },
      async (api) => {
        const open = [connectWs(api.wsUrl, a.appKey), connectWs(api.wsUrl, a.appKey)];
        try {
          await Promise.all(open.map((c) => runOn(c, ITEMS)));
          const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
            const extra = createClient({
              url: api.wsUrl,
              webSocketImpl: WebSocket,
              retryAttempts: 0,
              lazy: false,
              onNonLazyError: () => {},
              connectionParams: { authorization: `Bearer ${a.appKey}` },
              on: { closed: (e) => resolve(e as { code: number; reason: string }) },
            });
            void extra;
          });
          expect(closed.code).toBe(4429);
          expect(closed.reason).toMatch(/SOCKETS_PER_KEY=2/);
          // Another key of the same tenant still connects.
          const admin = connectWs(api.wsUrl, a.adminKey);
          expect((await runOn(admin, ITEMS)).errors).toBeUndefined();
          await admin.dispose();
        } finally {
          await Promise.all(open.map((c) => Promise.resolve(c.dispose())));
        }
      },
      { socketsPerKey: 2 },
    );
  });

  it('bounds the subscriptions of one key across its sockets', async () => {
    await withApi(
      { perKey: OFF, perTenant: OFF, gate: NO_GATE },
      async (api) => {
        const s1 = subscribeFeed(api.wsUrl, b.appKey, 'u1');
        const s2 = subscribeFeed(api.wsUrl, b.appKey, 'u2');
        expect((await s1.next()).reason).toBe('INITIAL');
        expect((await s2.next()).reason).toBe('INITIAL');
        const s3 = subscribeFeed(api.wsUrl, b.appKey, 'u3');
        await s3.done;
        const errors = s3.failure() as { message: string; extensions: { code: string } }[];
        expect(errors[0].extensions.code).toBe('RATE_LIMITED');
        expect(errors[0].message).toMatch(/SUBSCRIPTIONS_PER_KEY/);
        await Promise.all([s1.client.dispose(), s2.client.dispose(), s3.client.dispose()]);
      },
      { subscriptionsPerKey: 2 },
    );
  });
});
