// Feeds over real HTTP and WebSocket: the feed query, feedUpdated pushes after likes and
// dislikes (also across two API processes through PostgreSQL LISTEN/NOTIFY), tenant
// isolation, limits, and resources freed when clients leave.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, type TestTenant } from '../helpers/factories.js';
import { SUBSCRIBE, subscribeFeed } from '../helpers/ws.js';
import { startProcess, type StartedProcess } from '../helpers/processes.js';

// Dimension 4: no model in the store takes it, so feeds rank with the history centroid,
// which makes "near neighbours of a disliked item move down" exact.
const DIM = 4;
const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`;
const RECORD = `mutation($events: [InteractionInput!]!) { recordInteractions(events: $events) { count } }`;
const FEED = `query($u: ID!, $first: Int!, $after: String) { feed(userId: $u, first: $first, after: $after) {
  degraded edges { cursor node { rank score item { externalId } } } pageInfo { hasNextPage endCursor } } }`;

// Four clusters of five items around the axes.
const ITEMS = [0, 1, 2, 3].flatMap((axis) =>
  Array.from({ length: 5 }, (_, k) => ({
    id: `c${axis}-${k}`,
    embedding: Array.from({ length: DIM }, (_, d) => (d === axis ? 1 : 0.05 * Math.sin(axis * 5 + k + d))),
  })),
);

describe('feeds', () => {
  let db: TestDatabase;
  let api: TestApi;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    db = await createTestDatabase('api_feed');
    api = await startTestApi(db.appUrl, { subscriptionsPerConnection: 3 });
    a = await createTestTenant(db.adminUrl, DIM);
    b = await createTestTenant(db.adminUrl, DIM);
    expect((await api.gql(a.appKey, UPSERT, { items: ITEMS })).errors).toBeUndefined();
    expect((await api.gql(b.appKey, UPSERT, { items: [{ id: 'b-only', embedding: [1, 0, 0, 0] }] })).errors).toBeUndefined();
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it('feed: every unrated item once, best first, stable, paged', async () => {
    await api.gql(a.appKey, RECORD, {
      events: [
        { userId: 'reader', itemId: 'c0-0', kind: 'LIKE' },
        { userId: 'reader', itemId: 'c2-0', kind: 'DISLIKE' },
      ],
    });
    const page1 = (await api.gql(a.appKey, FEED, { u: 'reader', first: 10 })).data.feed;
    const page2 = (await api.gql(a.appKey, FEED, { u: 'reader', first: 10, after: page1.pageInfo.endCursor })).data.feed;
    const ids = [...page1.edges, ...page2.edges].map((e: any) => e.node.item.externalId);
    expect(ids).toHaveLength(18);
    expect(new Set(ids)).toEqual(new Set(ITEMS.map((i) => i.id).filter((id) => id !== 'c0-0' && id !== 'c2-0')));
    expect(page1.degraded).toBe(true); // no model takes dimension 4: the centroid ranks
    expect(ids.slice(0, 4).every((id: string) => id.startsWith('c0-'))).toBe(true); // near the like
    expect(ids.slice(-4).every((id: string) => id.startsWith('c2-'))).toBe(true); // near the dislike
    const again = (await api.gql(a.appKey, FEED, { u: 'reader', first: 10 })).data.feed;
    expect(again.edges).toEqual(page1.edges);
  });

  it('pushes the feed at once, then a re-ranked one after a like and after a dislike', async () => {
    const s = subscribeFeed(api.wsUrl, a.appKey, 'sub-user');
    try {
      const first = await s.next();
      expect(first.reason).toBe('INITIAL');
      expect(first.ids).toHaveLength(20);

      await api.gql(a.appKey, RECORD, { events: [{ userId: 'sub-user', itemId: 'c1-0', kind: 'LIKE' }] });
      const liked = await s.next();
      expect(liked.reason).toBe('INTERACTION');
      expect(liked.ids).not.toContain('c1-0');
      expect(liked.ids.slice(0, 4).every((id) => id.startsWith('c1-'))).toBe(true);

      const position = (ids: string[], prefix: string) => ids.map((id, i) => (id.startsWith(prefix) ? i : -1)).filter((i) => i >= 0);
      const before = position(liked.ids, 'c3-');
      await api.gql(a.appKey, RECORD, { events: [{ userId: 'sub-user', itemId: 'c3-0', kind: 'DISLIKE' }] });
      const disliked = await s.next();
      const after = position(disliked.ids, 'c3-');
      // The disliked item's near neighbours (its cluster) move down, to the bottom.
      expect(Math.min(...after)).toBeGreaterThan(Math.max(...before.slice(0, 4)) - 1);
      expect(after.every((i) => i >= disliked.ids.length - 4)).toBe(true);
    } finally {
      await s.client.dispose();
    }
  });

  it('merges new items into a live feed: scored for its user, placed by their score', async () => {
    const s = subscribeFeed(api.wsUrl, a.appKey, 'collector');
    try {
      await api.gql(a.appKey, RECORD, {
        events: [
          { userId: 'collector', itemId: 'c3-0', kind: 'LIKE' },
          { userId: 'collector', itemId: 'c1-0', kind: 'DISLIKE' },
        ],
      });
      await s.next(); // INITIAL (or the likes, if they landed first)
      const settled = await api.gql(a.appKey, FEED, { u: 'collector', first: 50 });
      await api.gql(a.appKey, UPSERT, {
        items: [
          { id: 'new-near-like', embedding: [0, 0, 0, 1] },
          { id: 'new-near-dislike', embedding: [0, 1, 0, 0] },
        ],
      });
      let update = await s.next();
      while (update.reason !== 'NEW_ITEMS') update = await s.next();
      // Among the liked item's cluster at the top, and the disliked one's at the bottom.
      expect(update.ids.indexOf('new-near-like')).toBeLessThan(5);
      expect(update.ids.indexOf('new-near-dislike')).toBeGreaterThanOrEqual(update.ids.length - 5);
      // The rest keeps the order it had: merged, not ranked again.
      expect(update.ids.filter((id) => !id.startsWith('new-'))).toEqual(settled.data.feed.edges.map((e: any) => e.node.item.externalId));
      // And a feed ranked from scratch agrees.
      const fresh = await api.gql(a.appKey, FEED, { u: 'collector', first: 50 });
      expect(fresh.data.feed.edges.map((e: any) => e.node.item.externalId)).toEqual(update.ids);
    } finally {
      await s.client.dispose();
    }
  });

  it('coalesces a burst of likes into few rankings', async () => {
    const s = subscribeFeed(api.wsUrl, a.appKey, 'bursty');
    try {
      await s.next();
      await Promise.all([0, 1, 2, 3, 4].map((k) => api.gql(a.appKey, RECORD, { events: [{ userId: 'bursty', itemId: `c2-${k}`, kind: 'LIKE' }] })));
      let last = await s.next();
      let pushes = 1;
      while (last.ids.some((id) => ['c2-0', 'c2-1', 'c2-2', 'c2-3', 'c2-4'].includes(id))) {
        last = await s.next();
        pushes++;
      }
      expect(pushes).toBeLessThan(5);
    } finally {
      await s.client.dispose();
    }
  });

  it("sees only its own tenant: another tenant's likes push nothing, and its items never appear", async () => {
    const s = subscribeFeed(api.wsUrl, b.appKey, 'sub-user');
    try {
      const first = await s.next();
      expect(first.ids).toEqual(['b-only']);
      await api.gql(a.appKey, RECORD, { events: [{ userId: 'sub-user', itemId: 'c1-1', kind: 'LIKE' }] });
      // Then a change of B's own. Had A's like reached this feed, the first update would say
      // INTERACTION (the more specific reason) or come before this one.
      await api.gql(b.appKey, UPSERT, { items: [{ id: 'b-second', embedding: [0, 1, 0, 0] }] });
      const next = await s.next();
      expect(next.reason).toBe('NEW_ITEMS');
      expect(next.ids.sort()).toEqual(['b-only', 'b-second']);
    } finally {
      await s.client.dispose();
    }
  });

  it('refuses an unauthenticated subscription', async () => {
    const closed = await new Promise<number>((resolve) => {
      const client = createClient({
        url: api.wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => {},
        on: { closed: (e) => resolve((e as { code: number }).code) },
      });
      void client;
    });
    expect(closed).toBe(4403);
  });

  it('limits subscriptions per connection, and frees them when the client leaves', async () => {
    const baseline = api.openSubscriptions();
    const client = createClient({ url: api.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${a.appKey}` } });
    const outcomes: Promise<string>[] = [];
    for (let i = 0; i < 4; i++) {
      outcomes.push(
        new Promise((resolve) => {
          client.subscribe(
            { query: SUBSCRIBE, variables: { u: `limit-${i}` } },
            {
              next: (m) => resolve(m.errors ? String(m.errors[0].extensions?.code) : 'ok'),
              error: (e) => resolve(String((e as { extensions?: { code?: string } }[])[0]?.extensions?.code ?? 'error')),
              complete: () => {},
            },
          );
        }),
      );
    }
    const results = await Promise.all(outcomes);
    expect(results.filter((r) => r === 'ok')).toHaveLength(3);
    expect(results.filter((r) => r === 'RATE_LIMITED')).toHaveLength(1);
    expect(api.openSubscriptions()).toBe(baseline + 3);
    await client.dispose();
    for (let i = 0; i < 50 && api.openSubscriptions() > baseline; i++) await new Promise((r) => setTimeout(r, 20));
    expect(api.openSubscriptions()).toBe(baseline);
  });
});

describe('feeds across two API processes (PostgreSQL LISTEN/NOTIFY)', () => {
  let db: TestDatabase;
  let a: TestTenant;
  const processes: StartedProcess[] = [];

  const startApi = async () => {
    const started = await startProcess('api', { DATABASE_URL: db.appUrl, DATABASE_ADMIN_URL: db.adminUrl, WORKER_URLS: '' });
    processes.push(started);
    return started.url;
  };

  let urlA: string;
  let urlB: string;

  // Process start-up has a timeout of its own: on a loaded 2-core machine two processes
  // compiling TypeScript at once took more than a test's 30 s.
  beforeAll(async () => {
    db = await createTestDatabase('api_feed_two');
    a = await createTestTenant(db.adminUrl, DIM);
    [urlA, urlB] = await Promise.all([startApi(), startApi()]);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await db?.drop();
  });

  it('a like recorded through instance A re-ranks a subscriber on instance B', async () => {
    const gql = (query: string, variables: object) =>
      fetch(urlA, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${a.appKey}` },
        body: JSON.stringify({ query, variables }),
      }).then((r) => r.json());
    expect((await gql(UPSERT, { items: ITEMS })).errors).toBeUndefined();
    const s = subscribeFeed(urlB.replace(/^http/, 'ws'), a.appKey, 'roamer');
    try {
      expect((await s.next()).reason).toBe('INITIAL');
      await gql(RECORD, { events: [{ userId: 'roamer', itemId: 'c3-2', kind: 'LIKE' }] });
      const update = await s.next();
      expect(update.reason).toBe('INTERACTION');
      expect(update.ids).not.toContain('c3-2');
      expect(update.ids.slice(0, 4).every((id) => id.startsWith('c3-'))).toBe(true);
    } finally {
      await s.client.dispose();
    }
  });
});
