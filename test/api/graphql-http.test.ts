// The API over real HTTP against a real PostgreSQL: the happy paths and every bad input the
// foundation issue lists, each answered with a clear error that leaves stored data unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLog, startTestApi, type TestApi } from '../helpers/api.js';
import { createTestDatabase, queryAsOwner, tableCounts, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeEvents, makeItems, type TestTenant } from '../helpers/factories.js';

const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId embedding } }`;
const RECORD = `mutation($events: [InteractionInput!]!) {
  recordInteractions(events: $events) { count interactions { id kind eventId item { externalId } user { externalId } } } }`;
const HISTORY = `query($u: ID!, $first: Int!, $after: String, $kind: InteractionKind) {
  user(externalId: $u) { externalId history(first: $first, after: $after, kind: $kind) {
    edges { node { kind item { externalId } } } pageInfo { hasNextPage endCursor } } } }`;

describe('GraphQL over HTTP', () => {
  let db: TestDatabase;
  let api: TestApi;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    db = await createTestDatabase('api_http');
    api = await startTestApi(db.appUrl);
    a = await createTestTenant(db.adminUrl, 4);
    b = await createTestTenant(db.adminUrl, 4);
    for (const t of [a, b]) {
      const items = await api.gql(t.appKey, UPSERT, { items: makeItems(30, 4) });
      expect(items.errors).toBeUndefined();
    }
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  /** Runs a request that must fail with this code, and checks that no table changed. */
  async function rejectsWithoutChange(code: string, key: string | undefined, query: string, variables?: Record<string, unknown>) {
    const before = await tableCounts(db.adminUrl);
    const response = await api.gql(key, query, variables);
    expect(response.errors?.length, JSON.stringify(response)).toBeGreaterThan(0);
    expect(response.errors![0].extensions?.code, response.errors![0].message).toBe(code);
    expect(await tableCounts(db.adminUrl)).toEqual(before);
    return response;
  }

  describe('storing and reading', () => {
    it('stores items with float32 embeddings and reads them back', async () => {
      const item = await api.gql(a.appKey, `{ item(externalId: "item-2") { externalId url prompt embedding } }`);
      expect(item.data.item).toEqual({ ...makeItems(3, 4)[2], externalId: 'item-2', id: undefined });
    });

    it('records likes and dislikes and pages through a user history, newest first, with a kind filter', async () => {
      const events = Array.from({ length: 7 }, (_, i) => ({ userId: 'hist', itemId: `item-${i}`, kind: i % 2 ? 'DISLIKE' : 'LIKE' }));
      const recorded = await api.gql(a.appKey, RECORD, { events });
      expect(recorded.data.recordInteractions.count).toBe(7);
      expect(recorded.data.recordInteractions.interactions[3]).toMatchObject({ kind: 'DISLIKE', item: { externalId: 'item-3' }, user: { externalId: 'hist' } });

      const page1 = await api.gql(a.appKey, HISTORY, { u: 'hist', first: 3 });
      const h1 = page1.data.user.history;
      expect(h1.edges.map((e: any) => e.node.item.externalId)).toEqual(['item-6', 'item-5', 'item-4']);
      expect(h1.pageInfo.hasNextPage).toBe(true);
      const page2 = await api.gql(a.appKey, HISTORY, { u: 'hist', first: 10, after: h1.pageInfo.endCursor });
      expect(page2.data.user.history.edges.map((e: any) => e.node.item.externalId)).toEqual(['item-3', 'item-2', 'item-1', 'item-0']);
      expect(page2.data.user.history.pageInfo.hasNextPage).toBe(false);

      const likes = await api.gql(a.appKey, HISTORY, { u: 'hist', first: 10, kind: 'LIKE' });
      expect(likes.data.user.history.edges.map((e: any) => e.node.item.externalId)).toEqual(['item-6', 'item-4', 'item-2', 'item-0']);
    });

    it('recordInteraction records one event and is idempotent on eventId', async () => {
      const q = `mutation($e: InteractionInput!) { recordInteraction(event: $e) { id kind pairId eventId } }`;
      const event = { userId: 'solo', itemId: 'item-9', kind: 'LIKE', pairId: 'pick-1', eventId: 'evt-solo' };
      const first = await api.gql(a.appKey, q, { e: event });
      const before = await tableCounts(db.adminUrl);
      const again = await api.gql(a.appKey, q, { e: event });
      expect(again.data).toEqual(first.data);
      expect(await tableCounts(db.adminUrl)).toEqual(before);
    });

    it('pages through items in creation order', async () => {
      const q = `query($after: String) { items(first: 20, after: $after) { edges { cursor node { externalId } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`;
      const p1 = await api.gql(a.appKey, q);
      const p2 = await api.gql(a.appKey, q, { after: p1.data.items.pageInfo.endCursor });
      const ids = [...p1.data.items.edges, ...p2.data.items.edges].map((e: any) => e.node.externalId);
      expect(ids).toEqual(makeItems(30, 4).map((i) => i.id));
      // Relay's PageInfo: the first and last edges' cursors, and whether pages come before and after.
      const edges1 = p1.data.items.edges;
      expect(p1.data.items.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: edges1[0].cursor, endCursor: edges1[19].cursor });
      expect(p2.data.items.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true, startCursor: p2.data.items.edges[0].cursor });
    });

    it('admin keys read the tenant with counts, and manage API keys', async () => {
      const t = await api.gql(a.adminKey, `{ tenant { slug embeddingDim counts { items apiKeys } apiKeys { prefix role } } }`);
      expect(t.data.tenant).toMatchObject({ slug: a.slug, embeddingDim: 4, counts: { items: 30, apiKeys: 2 } });
      expect(t.data.tenant.apiKeys.map((k: any) => k.role).sort()).toEqual(['ADMIN', 'APP']);
      const created = await api.gql(a.adminKey, `mutation { createApiKey(name: "ci", role: APP) { key apiKey { id prefix role } } }`);
      const { key, apiKey } = created.data.createApiKey;
      expect(apiKey.role).toBe('APP');
      expect(key.startsWith(`${apiKey.prefix}_`)).toBe(true);
      expect((await api.gql(key, `{ item(externalId: "item-0") { externalId } }`)).data.item.externalId).toBe('item-0');
      const revoked = await api.gql(a.adminKey, `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: apiKey.id });
      expect(revoked.data.revokeApiKey.revokedAt).toBeTruthy();
      const after = await api.gql(key, `{ item(externalId: "item-0") { externalId } }`);
      expect(after.status).toBe(401);
      expect(after.errors![0]).toMatchObject({ message: 'this API key has been revoked', extensions: { code: 'UNAUTHENTICATED' } });
    });
  });

  describe('bad input: a clear error, nothing stored', () => {
    it('roles are APP and ADMIN; app and admin, their names before 0.2.0, are still accepted (deprecated) and answered in the new names', async () => {
      for (const [given, answered] of [
        ['app', 'APP'],
        ['admin', 'ADMIN'],
      ]) {
        const created = await api.gql(a.adminKey, `mutation { createApiKey(name: "old-${given}", role: ${given}) { apiKey { role } } }`);
        expect(created.errors).toBeUndefined();
        expect(created.data.createApiKey.apiKey.role).toBe(answered);
      }
      const byDefault = await api.gql(a.adminKey, `mutation { createApiKey(name: "default") { apiKey { role } } }`);
      expect(byDefault.data.createApiKey.apiKey.role).toBe('APP');
      const schema = await api.gql(a.adminKey, `{ __type(name: "ApiKeyRole") { enumValues(includeDeprecated: true) { name isDeprecated } } }`);
      expect(schema.data.__type.enumValues).toEqual([
        { name: 'app', isDeprecated: true },
        { name: 'admin', isDeprecated: true },
        { name: 'APP', isDeprecated: false },
        { name: 'ADMIN', isDeprecated: false },
      ]);
    });

    it('an embedding of the wrong length', async () => {
      const items = makeItems(2, 4, 'bad');
      items[1].embedding = [1, 2, 3];
      const r = await rejectsWithoutChange('BAD_USER_INPUT', a.appKey, UPSERT, { items });
      expect(r.errors![0].extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        problems: [{ index: 1, field: 'items[1].embedding', message: 'expected 4 finite numbers, got 3' }],
      });
    });

    it('an overwrite with a bad item leaves the existing items as they were', async () => {
      const items = makeItems(2, 4);
      items[0].embedding = [9, 9, 9, 9];
      items[1].embedding = [1, 2];
      await rejectsWithoutChange('BAD_USER_INPUT', a.appKey, UPSERT, { items });
      const stored = await api.gql(a.appKey, `{ item(externalId: "item-0") { embedding } }`);
      expect(stored.data.item.embedding).toEqual(makeItems(1, 4)[0].embedding);
    });

    it('NaN and Infinity in an embedding', async () => {
      // JSON has no NaN; 1e999 is how Infinity arrives (JSON.parse reads it as Infinity).
      const before = await tableCounts(db.adminUrl);
      const body = `{"query":${JSON.stringify(UPSERT)},"variables":{"items":[{"id":"inf","embedding":[1,2,1e999,4]}]}}`;
      const response = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${a.appKey}` }, body });
      const json = await response.json();
      expect(json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(json.errors[0].message).toMatch(/embedding.*Infinity|Infinity.*embedding/s);
      const nan = await fetch(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${a.appKey}` },
        body: body.replace('1e999', 'NaN'),
      });
      expect(nan.status).toBe(400);
      expect((await nan.json()).errors[0].extensions.code).toBe('BAD_REQUEST');
      expect(await tableCounts(db.adminUrl)).toEqual(before);
    });

    it('an unknown item, reported by index', async () => {
      const events = makeEvents(5, { items: 30 });
      events[3] = { ...events[3], itemId: 'no-such-item' };
      const r = await rejectsWithoutChange('NOT_FOUND', a.appKey, RECORD, { events });
      expect(r.errors![0].extensions).toMatchObject({
        code: 'NOT_FOUND',
        problems: [{ index: 3, field: 'events[3].itemId', message: 'unknown item "no-such-item"' }],
      });
    });

    it('1,001 events in one call', async () => {
      const r = await rejectsWithoutChange('BAD_USER_INPUT', a.appKey, RECORD, { events: makeEvents(1001, { items: 30 }) });
      expect(r.errors![0].message).toMatch(/events: expected 1 to 1000 entries, got 1001/);
    });

    it('malformed ids', async () => {
      const events = makeEvents(3, { items: 30 });
      events[0] = { ...events[0], userId: '' };
      events[2] = { ...events[2], itemId: 'x'.repeat(300) };
      const r = await rejectsWithoutChange('BAD_USER_INPUT', a.appKey, RECORD, { events });
      expect(r.errors![0].extensions!.problems!.map((p) => p.field)).toEqual(['events[0].userId', 'events[2].itemId']);
      const cursor = await api.gql(a.appKey, HISTORY, { u: 'hist', first: 2, after: 'not-a-cursor' });
      expect(cursor.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
      expect(cursor.errors![0].message).toMatch(/^after: malformed cursor/);
    });

    it('a repeated eventId within one call', async () => {
      const events = makeEvents(3, { items: 30, eventPrefix: 'dup' });
      events[2] = { ...events[2], eventId: 'dup-0' };
      const r = await rejectsWithoutChange('BAD_USER_INPUT', a.appKey, RECORD, { events });
      expect(r.errors![0].extensions!.problems![0]).toMatchObject({ index: 2, message: '"dup-0" repeats events[0].eventId' });
    });

    it('a query nested too deep, and one too costly', async () => {
      const deep = await rejectsWithoutChange(
        'QUERY_TOO_DEEP',
        a.appKey,
        `{ user(externalId: "hist") { history { edges { node { user { history { edges { node { user { history { edges { node { kind } } } } } } } } } } } } }`,
      );
      expect(deep.status).toBe(400);
      expect(deep.errors![0]).toMatchObject({ message: 'query depth 13 exceeds the limit of 10', extensions: { code: 'QUERY_TOO_DEEP' } });
      const costly = await rejectsWithoutChange(
        'QUERY_TOO_COSTLY',
        a.appKey,
        `{ items(first: 500) { edges { node { externalId } } } user(externalId: "hist") { history(first: 500) { edges { node { user { history(first: 500) { edges { node { kind } } } } } } } } }`,
      );
      expect(costly.status).toBe(400);
      expect(costly.errors![0].extensions!.code).toBe('QUERY_TOO_COSTLY');
    });

    it('NUL characters in a prompt, a URL or an API key name', async () => {
      const prompt = await rejectsWithoutChange('BAD_USER_INPUT', a.appKey, UPSERT, {
        items: [{ id: 'nul-1', prompt: 'a fox\u0000', embedding: [1, 2, 3, 4] }],
      });
      expect(prompt.errors![0].extensions!.problems![0]).toMatchObject({
        field: 'items[0].prompt',
        message: expect.stringMatching(/^expected no NUL characters/),
      });
      const url = await rejectsWithoutChange('BAD_USER_INPUT', a.appKey, UPSERT, {
        items: [{ id: 'nul-2', url: 'https://x.example/\u0000.png', embedding: [1, 2, 3, 4] }],
      });
      expect(url.errors![0].extensions!.problems![0].field).toBe('items[0].url');
      const name = await rejectsWithoutChange('BAD_USER_INPUT', a.adminKey, `mutation($n: String!) { createApiKey(name: $n, role: APP) { key } }`, {
        n: 'ci\u0000',
      });
      expect(name.errors![0].extensions!.problems![0]).toMatchObject({ field: 'name', message: expect.stringMatching(/^expected no control characters/) });
    });

    it('unpaired UTF-16 surrogates in ids, and ids that differ only there never share a row', async () => {
      // \ud800 and \udfff alone would both be stored as U+FFFD: the second overwrote the first.
      const items = [{ id: 'pic-\ud800', embedding: [1, 1, 1, 1] }];
      const item = await rejectsWithoutChange('BAD_USER_INPUT', a.appKey, UPSERT, { items });
      expect(item.errors![0].extensions!.problems![0]).toMatchObject({ field: 'items[0].id', message: expect.stringMatching(/unpaired UTF-16 surrogate/) });
      for (const field of ['userId', 'eventId'] as const) {
        const event = { userId: 'surrogates', itemId: 'item-0', kind: 'LIKE', eventId: 'evt-s', [field]: 'x\udfff' };
        const r = await rejectsWithoutChange('BAD_USER_INPUT', a.appKey, RECORD, { events: [event] });
        expect(r.errors![0].extensions!.problems![0].field).toBe(`events[0].${field}`);
      }
      // A well-formed pair is a character like any other, and round-trips.
      const emoji = await api.gql(a.appKey, UPSERT, { items: [{ id: 'pic-\ud83e\udd8a', embedding: [1, 1, 1, 1] }] });
      expect(emoji.data.upsertItems[0].externalId).toBe('pic-🦊');
    });

    it('over-long ids in user, item and revokeApiKey: BAD_USER_INPUT with the value cut short', async () => {
      const long = 'x'.repeat(100_000);
      for (const [key, query, field] of [
        [a.appKey, `query($id: ID!) { user(externalId: $id) { externalId } }`, 'externalId'],
        [a.appKey, `query($id: ID!) { item(externalId: $id) { externalId } }`, 'externalId'],
        [a.adminKey, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, 'id'],
      ] as const) {
        const r = await rejectsWithoutChange('BAD_USER_INPUT', key, query, { id: long });
        expect(r.errors![0].message.length).toBeLessThan(300);
        expect(r.errors![0].message).toMatch(new RegExp(`${field}: expected`));
      }
      // NOT_FOUND shows the id it did not find, cut to 60 characters.
      const missing = await rejectsWithoutChange('NOT_FOUND', a.appKey, `query($id: ID!) { user(externalId: $id) { externalId } }`, { id: 'y'.repeat(256) });
      expect(missing.errors![0].message).toBe(`user "${'y'.repeat(56)}... not found`);
    });

    it('a subscription sent over HTTP', async () => {
      const r = await rejectsWithoutChange('BAD_USER_INPUT', a.appKey, `subscription { feedUpdated(userId: "u") { reason } }`);
      expect(r.errors![0].message).toMatch(/WebSocket/);
    });

    it('a missing, malformed or unknown key', async () => {
      for (const key of [undefined, 'not-a-key', `tg_00000000_${'A'.repeat(43)}`]) {
        const r = await rejectsWithoutChange('UNAUTHENTICATED', key, RECORD, { events: makeEvents(1, { items: 30 }) });
        expect(r.status).toBe(401);
        expect(r.errors![0].extensions!.code).toBe('UNAUTHENTICATED');
      }
    });

    it('an app key asking for admin operations', async () => {
      for (const q of [`{ tenant { name } }`, `mutation { createApiKey(name: "x") { key } }`]) {
        const r = await rejectsWithoutChange('FORBIDDEN', a.appKey, q);
        expect(r.errors![0].extensions!.code).toBe('FORBIDDEN');
      }
    });
  });

  describe("another tenant's ids answer NOT_FOUND on every path", () => {
    beforeAll(async () => {
      await api.gql(a.appKey, RECORD, { events: [{ userId: 'only-in-a', itemId: 'item-0', kind: 'LIKE' }] });
      await api.gql(a.appKey, UPSERT, { items: [{ id: 'only-in-a-item', embedding: [1, 2, 3, 4] }] });
    });

    it('user, history, item, recordInteractions and revokeApiKey', async () => {
      const keys = await api.gql(a.adminKey, `{ tenant { apiKeys { id } } }`);
      const aKeyId = keys.data.tenant.apiKeys[0].id;
      const attempts: [string, string, Record<string, unknown>?][] = [
        [b.appKey, `{ user(externalId: "only-in-a") { externalId } }`],
        [b.appKey, HISTORY, { u: 'only-in-a', first: 5 }],
        [b.appKey, `{ item(externalId: "only-in-a-item") { externalId } }`],
        [b.appKey, RECORD, { events: [{ userId: 'x', itemId: 'only-in-a-item', kind: 'LIKE' }] }],
        [b.adminKey, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: aKeyId }],
      ];
      for (const [key, query, variables] of attempts) {
        await rejectsWithoutChange('NOT_FOUND', key, query, variables);
      }
      // And A's key still works: B's attempt changed nothing.
      expect((await api.gql(a.adminKey, `{ tenant { name } }`)).errors).toBeUndefined();
    });

    it("B's reads show nothing of A's", async () => {
      const items = await api.gql(b.appKey, `{ items(first: 500) { edges { node { externalId } } } }`);
      expect(items.data.items.edges.map((e: any) => e.node.externalId)).not.toContain('only-in-a-item');
      const t = await api.gql(b.adminKey, `{ tenant { id counts { users } } }`);
      expect(t.data.tenant.id).toBe(b.id);
      expect(t.data.tenant.counts.users).toBe(0);
    });

    it("ids and cursors are opaque and tenant-scoped: they count nothing of another tenant's writes", async () => {
      // Tenants of their own: the other tests count B's users.
      const [c, d] = [await createTestTenant(db.adminUrl, 4), await createTestTenant(db.adminUrl, 4)];
      for (const t of [c, d]) await api.gql(t.appKey, UPSERT, { items: makeItems(5, 4) });
      const one = `mutation($e: InteractionInput!) { recordInteraction(event: $e) { id } }`;
      const first = await api.gql(c.appKey, one, { e: { userId: 'counter', itemId: 'item-1', kind: 'LIKE' } });
      for (let i = 0; i < 5; i++) await api.gql(d.appKey, one, { e: { userId: 'other', itemId: `item-${i}`, kind: 'LIKE' } });
      const second = await api.gql(c.appKey, one, { e: { userId: 'counter', itemId: 'item-2', kind: 'LIKE' } });
      const ids = [first.data.recordInteraction.id, second.data.recordInteraction.id];
      for (const id of ids) {
        expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
        expect(Buffer.from(id, 'base64url').toString('latin1')).not.toMatch(/^c?:?\d+$/);
      }
      // C's history cursor is not D's: D cannot page with it, nor learn anything from it.
      const page = await api.gql(c.appKey, HISTORY, { u: 'counter', first: 1 });
      const cursor = page.data.user.history.pageInfo.endCursor;
      expect(page.data.user.history.edges[0].node).toMatchObject({ kind: 'LIKE', item: { externalId: 'item-2' } });
      const next = await api.gql(c.appKey, HISTORY, { u: 'counter', first: 5, after: cursor });
      expect(next.data.user.history.edges.map((e: any) => e.node.item.externalId)).toEqual(['item-1']);
      await api.gql(d.appKey, RECORD, { events: [{ userId: 'counter', itemId: 'item-3', kind: 'LIKE' }] });
      const foreign = await api.gql(d.appKey, HISTORY, { u: 'counter', first: 5, after: cursor });
      expect(foreign.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
      expect(foreign.errors![0].message).toMatch(/^after: malformed cursor/);
    });
  });

  describe('HTTP edges', () => {
    it('echoes a request id, or makes one', async () => {
      const mine = await fetch(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-123', authorization: `Bearer ${a.appKey}` },
        body: '{"query":"{ items(first: 1) { edges { cursor } } }"}',
      });
      expect(mine.headers.get('x-request-id')).toBe('req-123');
      const made = await fetch(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${a.appKey}` },
        body: '{"query":"{ items(first: 1) { edges { cursor } } }"}',
      });
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('answers 400 with a JSON error to a body that is not JSON', async () => {
      const r = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
      expect(r.status).toBe(400);
      expect((await r.json()).errors[0].extensions.code).toBe('BAD_REQUEST');
    });
  });
});

describe('limits and failures on their own servers', () => {
  let db: TestDatabase;
  let a: TestTenant;
  beforeAll(async () => {
    db = await createTestDatabase('api_limits');
    a = await createTestTenant(db.adminUrl, 4);
  });
  afterAll(() => db?.drop());

  it('an oversized body is answered 413 and stores nothing', async () => {
    const api = await startTestApi(db.appUrl, { maxBodyBytes: 64 * 1024 });
    try {
      const before = await tableCounts(db.adminUrl);
      const r = await api.gql(a.appKey, UPSERT, { items: makeItems(1000, 4) });
      expect(r.status).toBe(413);
      expect(r.errors![0]).toMatchObject({ message: 'request body exceeds the limit of 65536 bytes', extensions: { code: 'PAYLOAD_TOO_LARGE' } });
      expect(await tableCounts(db.adminUrl)).toEqual(before);
    } finally {
      await api.stop();
    }
  });

  it('a database outage is answered UNAVAILABLE and retryable, naming no host', async () => {
    // Nothing listens on port 1: every database call fails the way an outage would.
    const api = await startTestApi('postgres://tastegraph_app@127.0.0.1:1/none');
    try {
      const r = await api.gql(a.appKey, `{ items { edges { cursor } } }`);
      expect(r.status).toBe(503);
      expect(r.errors![0].extensions).toMatchObject({ code: 'UNAVAILABLE' });
      expect(r.errors![0].message).toMatch(/database is unavailable \(connection refused\).*Retry/);
      expect(JSON.stringify(r)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
    } finally {
      await api.stop();
    }
  });

  it('an unexpected failure is masked, and logged under the request id the client is shown', async () => {
    // A real fault inside the database: the API's role lost its right to read items.
    await queryAsOwner(db.adminUrl, 'REVOKE SELECT ON items FROM tastegraph_app');
    const { log, lines } = captureLog();
    const api = await startTestApi(db.appUrl, { log });
    try {
      const r = await api.gql(a.appKey, `{ items { edges { cursor } } }`);
      expect(r.errors![0].message).toBe('Internal server error');
      expect(r.errors![0].extensions!.code).toBe('INTERNAL_SERVER_ERROR');
      const requestId = r.errors![0].extensions!.requestId;
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.stringify(r)).not.toMatch(/permission denied/);
      const logged = lines.filter((l) => l.requestId === requestId && l.level === 50);
      expect(logged).toHaveLength(1);
      expect(logged[0].err.message).toMatch(/permission denied for table items/);
    } finally {
      await queryAsOwner(db.adminUrl, 'GRANT SELECT ON items TO tastegraph_app');
      await api.stop();
    }
  });
});
