// The feed's candidate pool (real PostgreSQL): the newest items plus the items nearest the
// user's likes, from the in-memory index that is built in the background on first use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/repositories/database.js';
import { createServices, type Services } from '../../src/apps/wiring/services.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, type TestTenant } from '../helpers/factories.js';
import { createItemRepository } from '../../src/repositories/item.repository.js';
import { createUserRepository } from '../../src/repositories/user.repository.js';
import { createInteractionRepository } from '../../src/repositories/interaction.repository.js';
import { createFeedService } from '../../src/services/feed.service.js';
import { createTenantIndexes } from '../../src/services/tenant-indexes.js';
import { createScoringService } from '../../src/services/scoring.service.js';
import { pino } from 'pino';

const axis = (a: number, k: number) => Array.from({ length: 4 }, (_, d) => (d === a ? 1 : 0.01 * (k + 1) * (d + 1)));

describe('feed candidates', () => {
  let testDb: TestDatabase;
  let db: Database;
  let services: Services;
  let t: TestTenant;

  beforeAll(async () => {
    testDb = await createTestDatabase('feed_service');
    db = createDatabase({ connectionString: testDb.appUrl, poolSize: 4 });
    services = createServices(db, { feed: { poolSize: 4, nearShare: 0.5 } });
    t = await createTestTenant(testDb.adminUrl, 4);
    // Inserted cluster by cluster: the newest items are all of cluster 3.
    for (const a of [0, 1, 2, 3])
      await services.items.upsert(
        t.app,
        [0, 1, 2, 3, 4].map((k) => ({ id: `c${a}-${k}`, embedding: axis(a, k) })),
      );
    await services.interactions.record(t.app, [{ userId: 'u', itemId: 'c0-0', kind: 'LIKE' }]);
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('draws on the newest items while the index builds, then adds the items nearest the likes', async () => {
    const first = await services.feed.feed(t.app, 'u');
    expect(first.entries.map((e) => e.item.externalId).sort()).toEqual(['c3-1', 'c3-2', 'c3-3', 'c3-4']);
    let later = first;
    for (let i = 0; i < 50 && !later.entries.some((e) => e.item.externalId.startsWith('c0-')); i++) {
      await new Promise((r) => setTimeout(r, 20));
      later = await services.feed.feed(t.app, 'u');
    }
    const ids = later.entries.map((e) => e.item.externalId);
    expect(ids).toHaveLength(4);
    expect(ids.filter((id) => id.startsWith('c0-'))).toHaveLength(2); // half the pool: near the like
    expect(ids).not.toContain('c0-0'); // rated
    expect(ids.filter((id) => id.startsWith('c3-'))).toHaveLength(2); // the rest: newest
  });

  it('scores each item with its vector stored now, also before the index has heard of a change', async () => {
    const scoresNow = async () => {
      const feed = await services.feed.feed(t.app, 'u');
      const [byQuery] = await services.scoring.scoreMany(t.app, [{ userId: 'u', itemIds: feed.entries.map((e) => e.item.externalId) }]);
      if (byQuery instanceof Error) throw byQuery;
      const fromQuery = new Map(byQuery.items.map((x) => [x.item.externalId, x.score]));
      return new Map(feed.entries.map((e) => [e.item.externalId, { feed: e.score, query: fromQuery.get(e.item.externalId) }]));
    };
    // The feed's vectors (from the index, built by the test above) give the score query's scores.
    const before = await scoresNow();
    for (const { feed, query } of before.values()) expect(feed).toBe(query);
    const moved = [...before.keys()].find((id) => id.startsWith('c3-'))!;
    // Its vector changes behind the feed's back (no event reaches the index): the feed must not
    // score it with the vector its index still holds.
    await createItemRepository(db).upsert(t.id, [{ externalId: moved, url: null, prompt: null, embedding: axis(0, 7) }]);
    const after = await scoresNow();
    expect(after.get(moved)!.feed).toBe(after.get(moved)!.query);
    expect(after.get(moved)!.feed).not.toBe(before.get(moved)!.feed);
  });

  it("takes a cold user's candidate vectors from the tenant's index too, not from PostgreSQL", async () => {
    // The feed service over the real repositories, counting the reads that carry vectors.
    const items = createItemRepository(db);
    let withVectors = 0;
    const counted = { ...items, findByIds: (...args: Parameters<typeof items.findByIds>) => (withVectors++, items.findByIds(...args)) };
    const feed = createFeedService({
      users: createUserRepository(db),
      interactions: createInteractionRepository(db),
      items: counted,
      scoring: services.scoring,
      embeddingDim: (viewer) => services.tenants.embeddingDim(viewer),
      readTogether: (tenantId, fn) => db.withTenant(tenantId, () => fn()),
      poolSize: 4,
      nearShare: 0.5,
      indexes: createTenantIndexes({ items: counted, budgetBytes: 1 << 30 }),
    });
    // 'nobody' has no likes. The first feed starts the index's build in the background, and
    // candidates are read whole until it has finished.
    let cold = await feed.feed(t.app, 'nobody');
    for (let i = 0; i < 50 && withVectors > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      withVectors = 0;
      cold = await feed.feed(t.app, 'nobody');
    }
    expect(cold.entries).toHaveLength(4);
    expect(withVectors).toBe(0); // 1 a feed, every time, when the index was looked up by the likes' dimension
  });

  it("takes a score query's candidate vectors from the tenant's index, not from PostgreSQL", async () => {
    // The scoring service over the real repositories, counting the reads that carry vectors.
    const items = createItemRepository(db);
    let withVectors = 0;
    let refreshFails = false;
    const counted = {
      ...items,
      findByIds: (...args: Parameters<typeof items.findByIds>) => (withVectors++, items.findByIds(...args)),
      findByExternalIds: (...args: Parameters<typeof items.findByExternalIds>) => (withVectors++, items.findByExternalIds(...args)),
      changedSince: (...args: Parameters<typeof items.changedSince>) =>
        refreshFails ? Promise.reject(new Error('the refresh failed')) : items.changedSince(...args),
    };
    const scoringOver = (indexes: ReturnType<typeof createTenantIndexes>, minDim?: number) =>
      createScoringService({
        users: createUserRepository(db),
        interactions: createInteractionRepository(db),
        items: counted,
        vectors: { indexes, embeddingDim: (viewer) => services.tenants.embeddingDim(viewer), minDim },
        predictor: { predict: async () => Promise.reject(new Error('no model here')) },
        servingModels: { resolve: async () => ({ kind: 'none', reason: 'no model here' }) },
        historyPerKind: 8,
        timeoutMs: 1000,
        log: pino({ level: 'silent' }),
      });
    const asked = ['c1-0', 'c2-3', 'nope', 'c0-4'];
    // This tenant's vectors have 4 numbers: below SCORE_VECTORS_FROM_INDEX_MIN_DIM a score reads
    // its candidates whole and builds no index.
    const small = createTenantIndexes({ items: counted, budgetBytes: 1 << 30 });
    await scoringOver(small).scoreMany(t.app, [{ userId: 'nobody', itemIds: ['c1-0'] }]);
    expect(withVectors).toBe(1);
    expect(small.held().tenants).toEqual([]);
    // Told to take them from dimension 0 on.
    const indexes = createTenantIndexes({ items: counted, budgetBytes: 1 << 30 });
    const scoring = scoringOver(indexes, 0);
    withVectors = 0;
    const score = async () => (await scoring.scoreMany(t.app, [{ userId: 'nobody', itemIds: asked.filter((id) => id !== 'nope') }]))[0];
    // The first score starts the index's build in the background and reads the vectors whole.
    const first = await score();
    let later = first;
    for (let i = 0; i < 50 && withVectors > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      withVectors = 0;
      later = await score();
    }
    expect(withVectors).toBe(0); // 1 a score (findByExternalIds) before
    expect(later).toEqual(first); // the same items, vectors and (centroid) scores
    if (later instanceof Error) throw later;
    expect(later.items.map((e) => e.item.externalId)).toEqual(['c1-0', 'c2-3', 'c0-4']);
    expect(later.items[1].item.embedding).toEqual(Float32Array.from(axis(2, 3)));
    // A refresh of the index that fails leaves the score to read its candidates whole.
    refreshFails = true;
    indexes.itemsChanged(t.app.tenantId);
    expect(await score()).toEqual(first);
    expect(withVectors).toBe(1);
    refreshFails = false;
    // An unknown item is still named as such.
    const [unknown] = await scoring.scoreMany(t.app, [{ userId: 'nobody', itemIds: asked }]);
    expect(unknown).toBeInstanceOf(Error);
    expect((unknown as Error).message).toMatch(/nope/);
  });

  it('picks up new items after an upsert', async () => {
    await services.items.upsert(t.app, [{ id: 'fresh', embedding: axis(0, 9) }]);
    const ids = (await services.feed.feed(t.app, 'u')).entries.map((e) => e.item.externalId);
    expect(ids).toContain('fresh');
  });
});
