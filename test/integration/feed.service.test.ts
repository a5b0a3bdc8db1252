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
    const feed = createFeedService({
      users: createUserRepository(db),
      interactions: createInteractionRepository(db),
      items: { ...items, findByIds: (...args) => (withVectors++, items.findByIds(...args)) },
      scoring: services.scoring,
      embeddingDim: (viewer) => services.tenants.embeddingDim(viewer),
      readTogether: (tenantId, fn) => db.withTenant(tenantId, () => fn()),
      poolSize: 4,
      nearShare: 0.5,
      indexBudgetBytes: 1 << 30,
      scanSliceFloats: 0,
      partitionFloats: 0,
      probeShare: 0.1,
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

  it('picks up new items after an upsert', async () => {
    await services.items.upsert(t.app, [{ id: 'fresh', embedding: axis(0, 9) }]);
    const ids = (await services.feed.feed(t.app, 'u')).entries.map((e) => e.item.externalId);
    expect(ids).toContain('fresh');
  });
});
