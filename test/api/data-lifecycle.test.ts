// The data lifecycle over real HTTP and WebSocket on real PostgreSQL: undo (latest state per
// user and item), erasing a user (every table checked from the catalog), deleting items, a
// user's data export, tenant isolation and bad input leaving everything as it was.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_STORE } from '../../src/config.js';
import { createTrainingDataRepository } from '../../src/repositories/training-data.repository.js';
import { exportDataset } from '../../src/training/dataset-export.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { createTestDatabase, queryAsOwner, tableCounts, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, type TestTenant } from '../helpers/factories.js';
import { seedWorld } from '../helpers/training.js';
import { inProcessScorer } from '../helpers/worker.js';
import { subscribeFeed } from '../helpers/ws.js';
import { rowsNaming } from '../helpers/catalog.js';

const DIM = 32; // the base model's: users get representations and taste groups
const RECORD = `mutation($events: [InteractionInput!]!) { recordInteractions(events: $events) { count } }`;
const CLEAR = `mutation($u: ID!, $i: ID!) { clearInteraction(userId: $u, itemId: $i) { userId itemId cleared previousKind event { kind current item { externalId } } } }`;
const CLEAR_MANY = `mutation($events: [ClearInteractionInput!]!) { clearInteractions(events: $events) { count results { userId itemId cleared previousKind } } }`;
const STATES = `query($u: ID!) { userData(userId: $u) {
  user { externalId }
  currentStates(first: 100) { edges { node { kind current item { externalId } } } }
  history(first: 100) { edges { node { kind current item { externalId } } } } } }`;
const ERASE = `mutation($u: ID!) { deleteUser(userId: $u) { userId erased erasedAt removed { interactions likes dislikes representations tasteGroupMemberships tasteGroupRepresentatives } } }`;
const DELETE_ITEMS = `mutation($ids: [ID!]!) { deleteItems(ids: $ids) { count ids interactions likes dislikes users } }`;
const FEED = `query($u: ID!) { feed(userId: $u, first: 100) { edges { node { item { externalId } } } } }`;

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000) {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (await check()) return;
  throw new Error('the condition did not hold in time');
}

describe('data lifecycle', () => {
  let db: TestDatabase;
  let api: TestApi;
  let a: TestTenant;
  let b: TestTenant;
  let closeScorer: () => Promise<void>;
  let itemIds: string[];

  const ok = async (key: string, query: string, variables?: Record<string, unknown>) => {
    const r = await api.gql(key, query, variables);
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    return r.data;
  };
  const states = async (user: string) => {
    const data = (await ok(a.adminKey, STATES, { u: user })).userData;
    const pick = (c: any) => c.edges.map((e: any) => `${e.node.kind}:${e.node.item.externalId}${e.node.current ? '*' : ''}`);
    return { current: pick(data.currentStates), history: pick(data.history) };
  };

  beforeAll(async () => {
    db = await createTestDatabase('lifecycle');
    const { scorer } = await inProcessScorer(DEFAULT_MODEL_STORE);
    closeScorer = () => scorer.close();
    api = await startTestApi(db.appUrl, { scorer });
    a = await createTestTenant(db.adminUrl, DIM);
    b = await createTestTenant(db.adminUrl, DIM);
    const world = await seedWorld(api.services, a.admin, DIM, { seed: 3, users: 60, items: 120, interactionsPerUser: 20 });
    itemIds = world.items.map((i) => i.id);
    // The same user and item ids as tenant a's, and ids of its own.
    await seedWorld(api.services, b.admin, DIM, { seed: 4, users: 10, items: 30, interactionsPerUser: 10 }, 'b');
    await api.services.items.upsert(b.admin, [{ id: 'b-only-item', embedding: Array.from({ length: DIM }, (_, d) => Math.sin(d)) }]);
    await api.services.interactions.record(b.admin, [{ userId: 'b-only-user', itemId: 'b-only-item', kind: 'LIKE' }]);
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
    await closeScorer?.();
    await db?.drop();
  });

  it('undo then redo: the latest event per user and item is the state the model, feeds and counts read', async () => {
    const [x, y] = itemIds;
    const before = (await ok(a.adminKey, '{ tenant { counts { likes dislikes interactions events } } }')).tenant.counts;
    await ok(a.appKey, RECORD, {
      events: [
        { userId: 'undoer', itemId: x, kind: 'LIKE' },
        { userId: 'undoer', itemId: y, kind: 'LIKE' },
      ],
    });
    // A dislike after a like replaces it: one state, not both.
    await ok(a.appKey, RECORD, { events: [{ userId: 'undoer', itemId: y, kind: 'DISLIKE' }] });
    expect(await states('undoer')).toEqual({ current: [`DISLIKE:${y}*`, `LIKE:${x}*`], history: [`DISLIKE:${y}*`, `LIKE:${y}`, `LIKE:${x}*`] });

    const undone = (await ok(a.appKey, CLEAR, { u: 'undoer', i: x })).clearInteraction;
    expect(undone).toEqual({
      userId: 'undoer',
      itemId: x,
      cleared: true,
      previousKind: 'LIKE',
      event: { kind: 'CLEAR', current: false, item: { externalId: x } },
    });
    expect((await states('undoer')).current).toEqual([`DISLIKE:${y}*`]);
    // The feed offers the item again (it is no longer rated), and a second undo finds nothing.
    expect((await ok(a.appKey, FEED, { u: 'undoer' })).feed.edges.map((e: any) => e.node.item.externalId)).toContain(x);
    expect((await ok(a.appKey, CLEAR, { u: 'undoer', i: x })).clearInteraction).toMatchObject({ cleared: false, previousKind: null, event: null });

    // Redo: a like again is the state; a dislike, then a like: the like.
    await ok(a.appKey, RECORD, {
      events: [
        { userId: 'undoer', itemId: x, kind: 'DISLIKE' },
        { userId: 'undoer', itemId: x, kind: 'LIKE' },
      ],
    });
    const after = await states('undoer');
    expect(after.current).toEqual([`LIKE:${x}*`, `DISLIKE:${y}*`]);
    expect(after.history).toEqual([`LIKE:${x}*`, `DISLIKE:${x}`, `CLEAR:${x}`, `DISLIKE:${y}*`, `LIKE:${y}`, `LIKE:${x}`]);
    expect((await ok(a.adminKey, '{ tenant { counts { likes dislikes interactions events } } }')).tenant.counts).toEqual({
      likes: before.likes + 1,
      dislikes: before.dislikes + 1,
      interactions: before.interactions + 2,
      events: before.events + 6,
    });
    // The model's history: what scoring reads is the state (one like of x, one dislike of y).
    const history = await api.services.scoring.history(a.app, await api.services.users.get(a.app, 'undoer'));
    expect(history.map((h) => h.like)).toEqual([true, false]);
  });

  it('clearInteractions is all-or-nothing: an unknown user or item, or bad input, changes nothing', async () => {
    const [x, y] = itemIds.slice(10);
    await ok(a.appKey, RECORD, {
      events: [
        { userId: 'batcher', itemId: x, kind: 'LIKE' },
        { userId: 'batcher', itemId: y, kind: 'DISLIKE' },
      ],
    });
    const before = await tableCounts(db.adminUrl);
    const unknown = await api.gql(a.appKey, CLEAR_MANY, {
      events: [
        { userId: 'batcher', itemId: x },
        { userId: 'batcher', itemId: 'no-such-item' },
        { userId: 'nobody', itemId: y },
      ],
    });
    expect(unknown.errors?.[0].extensions).toMatchObject({
      code: 'NOT_FOUND',
      problems: [
        { index: 1, field: 'events[1].itemId' },
        { index: 2, field: 'events[2].userId' },
      ],
    });
    const bad = await api.gql(a.appKey, CLEAR_MANY, {
      events: [
        { userId: 'batcher', itemId: x },
        { userId: '', itemId: y },
      ],
    });
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ index: 1, field: 'events[1].userId' }] });
    expect(bad.errors?.[0].message).toContain('nothing was changed');
    // recordInteractions refuses CLEAR and says where undo lives.
    const asKind = await api.gql(a.appKey, RECORD, { events: [{ userId: 'batcher', itemId: x, kind: 'CLEAR' }] });
    expect(asKind.errors?.[0].extensions?.problems?.[0].message).toContain('clearInteractions');
    expect(await tableCounts(db.adminUrl)).toEqual(before);

    const both = (
      await ok(a.appKey, CLEAR_MANY, {
        events: [
          { userId: 'batcher', itemId: x },
          { userId: 'batcher', itemId: y },
          { userId: 'batcher', itemId: x },
        ],
      })
    ).clearInteractions;
    expect(both.count).toBe(2);
    expect(both.results.map((r: any) => [r.itemId, r.cleared, r.previousKind])).toEqual([
      [x, true, 'LIKE'],
      [y, true, 'DISLIKE'],
      [x, false, null],
    ]);
    expect((await states('batcher')).current).toEqual([]);
  });

  it("another tenant's users and items answer NOT_FOUND, and nothing of either tenant changes", async () => {
    const before = await tableCounts(db.adminUrl);
    const [bUser, bItem] = ['b-only-user', 'b-only-item'];
    for (const [query, variables] of [
      [CLEAR, { u: bUser, i: itemIds[0] }],
      [CLEAR, { u: 'undoer', i: bItem }],
      [ERASE, { u: bUser }],
      [DELETE_ITEMS, { ids: [bItem] }],
      [STATES, { u: bUser }],
    ] as const) {
      const r = await api.gql(a.adminKey, query, variables);
      expect(r.errors?.[0].extensions?.code, `${query} ${JSON.stringify(variables)}`).toBe('NOT_FOUND');
    }
    // Bad ids are BAD_USER_INPUT naming the field, and change nothing either.
    for (const [query, variables, field] of [
      [ERASE, { u: '' }, 'userId'],
      [STATES, { u: 'x'.repeat(300) }, 'userId'],
      [DELETE_ITEMS, { ids: [] }, 'ids'],
    ] as const) {
      const r = await api.gql(a.adminKey, query, variables);
      expect(r.errors?.[0].extensions?.code, query).toBe('BAD_USER_INPUT');
      expect(r.errors?.[0].message).toContain(field);
    }
    expect(await tableCounts(db.adminUrl)).toEqual(before);
    // userData is for admins.
    expect((await api.gql(a.appKey, STATES, { u: 'undoer' })).errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('deleteUser erases every row of the user in every table (found from the catalog), ends their live feed, and keeps a record', async () => {
    // The user has likes, dislikes, an undo, a representation and taste-group memberships.
    const victim = 'user-5'; // from the seeded world: 20 interactions
    await ok(a.appKey, CLEAR, { u: victim, i: (await states(victim)).current[0].split(':')[1].replace('*', '') });
    await ok(a.adminKey, 'mutation { refreshTasteGroups(k: 2) { id } }');
    const [{ id: userId }] = await queryAsOwner<{ id: number }>(db.adminUrl, 'SELECT id FROM users WHERE tenant_id = $1 AND external_id = $2', [a.id, victim]);
    const naming = await rowsNaming(db.adminUrl, a.id, userId, victim);
    expect(naming.user_embeddings).toBeGreaterThan(0);
    expect(naming.taste_group_members).toBeGreaterThan(0);
    expect(naming.interaction_states).toBeGreaterThan(0);

    const similar = async () =>
      (await ok(a.adminKey, `{ similarUsers(userId: "user-6", first: 100) { edges { node { user { externalId } } } } }`)).similarUsers.edges.map(
        (e: any) => e.node.user.externalId,
      );
    expect(await similar()).toContain(victim);

    const feed = subscribeFeed(api.wsUrl, a.appKey, victim);
    expect((await feed.next()).reason).toBe('INITIAL');
    const others = await tableCounts(db.adminUrl);

    const erased = (await ok(a.appKey, ERASE, { u: victim })).deleteUser;
    expect(erased).toMatchObject({
      userId: victim,
      erased: true,
      removed: { interactions: naming.interactions, representations: naming.user_embeddings, tasteGroupMemberships: naming.taste_group_members },
    });
    expect(erased.removed.likes + erased.removed.dislikes).toBe(naming.interaction_states);

    // No table with a tenant column holds a row that names the user (by id, in an id array, or by their external id).
    expect(
      Object.values(await rowsNaming(db.adminUrl, a.id, userId, victim)).every((n) => n === 0),
      JSON.stringify(await rowsNaming(db.adminUrl, a.id, userId, victim)),
    ).toBe(true);
    // Only the user's rows went (and one erasure record came).
    const after = await tableCounts(db.adminUrl);
    expect(after.users).toBe(others.users - 1);
    expect(after.interactions).toBe(others.interactions - naming.interactions);
    expect(after.user_erasures).toBe((others.user_erasures ?? 0) + 1);
    const [record] = await queryAsOwner<{ user_hash: Buffer; removed: object; requested_by: string }>(
      db.adminUrl,
      'SELECT user_hash, removed, requested_by FROM user_erasures WHERE tenant_id = $1',
      [a.id],
    );
    expect(record.user_hash).toHaveLength(32);
    expect(JSON.stringify(record)).not.toContain(victim);
    expect(record.requested_by).toBe('app');

    // The live feed ended with the reason.
    await feed.done;
    expect((feed.failure() as object[])[0]).toMatchObject({
      message: `user "${victim}" was erased (deleteUser); this feed has ended`,
      extensions: { code: 'NOT_FOUND' },
    });

    // This instance's similar-users index forgot the user at once (it holds every representation).
    expect(await similar()).not.toContain(victim);

    // Again: not an error, nothing left; the user is gone from reads.
    const again = (await ok(a.adminKey, ERASE, { u: victim })).deleteUser;
    expect(again).toMatchObject({ erased: false, erasedAt: erased.erasedAt, removed: { interactions: 0, likes: 0 } });
    expect((await api.gql(a.adminKey, STATES, { u: victim })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect((await api.gql(a.adminKey, ERASE, { u: 'never-was' })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('an ingest racing the erasure of its user stores nothing and answers CONFLICT, saying why', async () => {
    await ok(a.appKey, RECORD, { events: [{ userId: 'racer', itemId: itemIds[0], kind: 'LIKE' }] });
    // The erasure's first step (the user row locked) is held open by the owner; the ingest that
    // names the user then waits on its foreign key check until the erasure commits.
    const eraser = new pg.Client({ connectionString: db.adminUrl });
    await eraser.connect();
    try {
      await eraser.query('BEGIN');
      const [{ id }] = (await eraser.query<{ id: number }>(`SELECT id FROM users WHERE tenant_id = $1 AND external_id = 'racer' FOR UPDATE`, [a.id])).rows;
      const ingest = api.gql(a.appKey, RECORD, { events: [{ userId: 'racer', itemId: itemIds[1], kind: 'DISLIKE' }] });
      await waitUntil(
        async () =>
          (
            await queryAsOwner<{ n: number }>(
              db.adminUrl,
              `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')`,
            )
          )[0].n > 0,
      );
      await eraser.query('DELETE FROM interaction_states WHERE user_id = $1', [id]);
      await eraser.query('DELETE FROM interactions WHERE user_id = $1', [id]);
      await eraser.query('DELETE FROM users WHERE id = $1', [id]);
      await eraser.query('COMMIT');
      const answer = await ingest;
      expect(answer.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', problems: [{ field: 'events' }] });
      expect(answer.errors?.[0].message).toContain('was deleted (deleteUser or deleteItems) while the call was being stored');
      expect(await queryAsOwner(db.adminUrl, `SELECT 1 FROM users WHERE tenant_id = $1 AND external_id = 'racer'`, [a.id])).toEqual([]);
    } finally {
      await eraser.end();
    }
  });

  it('a training export after an erasure leaves the user out, even when a restored backup brings their rows back', async () => {
    const victim = 'user-5';
    const exported = async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tg-export-'));
      await exportDataset(createTrainingDataRepository(api.db), a.id, dir, 20);
      return (await readFile(join(dir, 'train', 'interactions.csv'), 'utf8')) + (await readFile(join(dir, 'heldout', 'interactions.csv'), 'utf8'));
    };
    const users = (csv: string) =>
      new Set(
        csv
          .split('\n')
          .slice(1)
          .filter(Boolean)
          .map((line) => line.split(',')[0]),
      );
    expect(users(await exported())).not.toContain(victim);

    // A restore from a backup taken before the erasure: the user's rows are back, created before it.
    const [{ id }] = await queryAsOwner<{ id: number }>(
      db.adminUrl,
      `INSERT INTO users (tenant_id, external_id, created_at) VALUES ($1, $2, now() - interval '1 day') RETURNING id`,
      [a.id, victim],
    );
    await queryAsOwner(
      db.adminUrl,
      `WITH e AS (INSERT INTO interactions (tenant_id, user_id, item_id, kind) SELECT $1, $2, id, 'LIKE' FROM items WHERE tenant_id = $1 ORDER BY id LIMIT 3 RETURNING id, item_id)
       INSERT INTO interaction_states (tenant_id, user_id, item_id, kind, interaction_id) SELECT $1, $2, item_id, 'LIKE', id FROM e`,
      [a.id, id],
    );
    expect(users(await exported())).not.toContain(victim);

    // A user of the same id created after the erasure (a new sign-up) is a new user and is exported.
    await queryAsOwner(db.adminUrl, 'DELETE FROM users WHERE id = $1', [id]);
    await ok(a.appKey, RECORD, { events: [{ userId: victim, itemId: itemIds[0], kind: 'LIKE' }] });
    expect(users(await exported())).toContain(victim);
  });

  it('deleteItems removes the items and every like of them, all-or-nothing', async () => {
    const doomed = itemIds.slice(100, 110);
    const before = await tableCounts(db.adminUrl);
    const bad = await api.gql(a.appKey, DELETE_ITEMS, { ids: [doomed[0], doomed[0]] });
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ index: 1, field: 'ids[1]' }] });
    const unknown = await api.gql(a.appKey, DELETE_ITEMS, { ids: [doomed[0], 'no-such-item'] });
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', problems: [{ index: 1, field: 'ids[1]' }] });
    const tooMany = await api.gql(a.appKey, DELETE_ITEMS, { ids: Array.from({ length: 1001 }, (_, i) => `x-${i}`) });
    expect(tooMany.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(await tableCounts(db.adminUrl)).toEqual(before);

    const [{ events, states: stateRows, users }] = await queryAsOwner<{ events: number; states: number; users: number }>(
      db.adminUrl,
      `SELECT (SELECT count(*)::int FROM interactions i JOIN items it ON it.id = i.item_id WHERE it.tenant_id = $1 AND it.external_id = ANY($2)) AS events,
              (SELECT count(*)::int FROM interaction_states s JOIN items it ON it.id = s.item_id WHERE it.tenant_id = $1 AND it.external_id = ANY($2)) AS states,
              (SELECT count(DISTINCT i.user_id)::int FROM interactions i JOIN items it ON it.id = i.item_id WHERE it.tenant_id = $1 AND it.external_id = ANY($2)) AS users`,
      [a.id, doomed],
    );
    expect(events).toBeGreaterThan(0);
    const deleted = (await ok(a.appKey, DELETE_ITEMS, { ids: doomed })).deleteItems;
    expect(deleted).toMatchObject({ count: 10, ids: doomed, interactions: events, users });
    expect(deleted.likes + deleted.dislikes).toBe(stateRows);
    const after = await tableCounts(db.adminUrl);
    expect(after.items).toBe(before.items - 10);
    expect(after.interactions).toBe(before.interactions - events);
    expect(await queryAsOwner(db.adminUrl, 'SELECT 1 FROM items WHERE tenant_id = $1 AND external_id = ANY($2)', [a.id, doomed])).toEqual([]);
    expect((await api.gql(a.appKey, DELETE_ITEMS, { ids: doomed })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});
