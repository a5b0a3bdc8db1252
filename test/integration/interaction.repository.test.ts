import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/repositories/database.js';
import { createInteractionRepository, LATEST_BY_KIND_SQL } from '../../src/repositories/interaction.repository.js';
import { createServices, type Services } from '../../src/apps/wiring/services.js';
import { createTestDatabase, queryAsOwner, tableCounts, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeItems, type TestTenant } from '../helpers/factories.js';

describe('recording interactions (real PostgreSQL)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let services: Services;
  let t: TestTenant;

  beforeAll(async () => {
    testDb = await createTestDatabase('interactions');
    db = createDatabase({ connectionString: testDb.appUrl, poolSize: 4 });
    services = createServices(db);
    t = await createTestTenant(testDb.adminUrl);
    await services.items.upsert(t.app, makeItems(20, t.dim));
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('returns one row per event, in the order sent, and creates users on first sight', async () => {
    const events = [
      { userId: 'ann', itemId: 'item-3', kind: 'LIKE' as const },
      { userId: 'bob', itemId: 'item-1', kind: 'DISLIKE' as const, pairId: 'p1' },
      { userId: 'ann', itemId: 'item-2', kind: 'DISLIKE' as const },
    ];
    const rows = await services.interactions.record(t.app, events);
    expect(rows.map((r) => [r.kind, r.pairId])).toEqual([
      ['LIKE', null],
      ['DISLIKE', 'p1'],
      ['DISLIKE', null],
    ]);
    expect(rows[0].userId).toBe(rows[2].userId);
    expect(rows[0].id).toBeLessThan(rows[1].id);
    const items = await services.items.byIds(
      t.app,
      rows.map((r) => r.itemId),
    );
    expect(items.map((i) => i?.externalId)).toEqual(['item-3', 'item-1', 'item-2']);
  });

  it('is idempotent on eventId: a retry stores nothing and returns the same rows', async () => {
    const events = [
      { userId: 'cy', itemId: 'item-4', kind: 'LIKE' as const, eventId: 'e-1' },
      { userId: 'cy', itemId: 'item-5', kind: 'LIKE' as const },
      { userId: 'cy', itemId: 'item-6', kind: 'DISLIKE' as const, eventId: 'e-2' },
    ];
    const first = await services.interactions.record(t.app, events);
    const before = await tableCounts(testDb.adminUrl);
    const retry = await services.interactions.record(t.app, [events[0], events[2]]);
    expect(retry).toEqual([first[0], first[2]]);
    expect(await tableCounts(testDb.adminUrl)).toEqual(before);
  });

  it('concurrent calls with the same event ids store each event once', async () => {
    const events = Array.from({ length: 50 }, (_, i) => ({ userId: `racer-${i % 5}`, itemId: `item-${i % 20}`, kind: 'LIKE' as const, eventId: `race-${i}` }));
    const results = await Promise.all(Array.from({ length: 6 }, () => services.interactions.record(t.app, events)));
    for (const r of results) expect(r.map((x) => x.id)).toEqual(results[0].map((x) => x.id));
    const [{ n }] = await queryAsOwner<{ n: number }>(testDb.adminUrl, `SELECT count(*)::int AS n FROM interactions WHERE event_id LIKE 'race-%'`);
    expect(n).toBe(50);
  });

  it('reusing an eventId for a different event is a CONFLICT, and nothing of the call is stored', async () => {
    await services.interactions.record(t.app, [{ userId: 'dee', itemId: 'item-1', kind: 'LIKE', eventId: 'e-dee' }]);
    const before = await tableCounts(testDb.adminUrl);
    await expect(
      services.interactions.record(t.app, [
        { userId: 'new-user', itemId: 'item-2', kind: 'LIKE' },
        { userId: 'dee', itemId: 'item-1', kind: 'DISLIKE', eventId: 'e-dee' },
      ]),
    ).rejects.toMatchObject({ code: 'CONFLICT', problems: [{ index: 1, field: 'events[1].eventId' }] });
    expect(await tableCounts(testDb.adminUrl)).toEqual(before);
  });

  it("a user's latest likes and dislikes come from bounded index scans of the states, without a sort", async () => {
    // Enough states per user that the planner prefers the index on its own (no enable_seqscan
    // tricks): 40 users with 200 distinct items each.
    await services.items.upsert(t.app, makeItems(400, t.dim, 'heavy-item'));
    const events = Array.from({ length: 8000 }, (_, i) => {
      const user = i % 40;
      const j = Math.floor(i / 40);
      const kind: 'LIKE' | 'DISLIKE' = j % 2 ? 'LIKE' : 'DISLIKE';
      return { userId: `heavy-${user}`, itemId: `heavy-item-${(user * 7 + j) % 400}`, kind };
    });
    for (let k = 0; k < events.length; k += 1000) await services.interactions.record(t.app, events.slice(k, k + 1000));
    await queryAsOwner(testDb.adminUrl, 'ANALYZE interaction_states');
    const [user] = await queryAsOwner<{ id: number }>(testDb.adminUrl, `SELECT id FROM users WHERE external_id = 'heavy-7'`);
    const plan = await db.withTenant(t.id, async (sql) => {
      const { rows } = await sql.query(`EXPLAIN (FORMAT JSON) ${LATEST_BY_KIND_SQL}`, [t.id, user.id, 8]);
      return JSON.stringify(rows[0]['QUERY PLAN']);
    });
    expect(plan).toContain('interaction_states_user_kind_recent_idx');
    expect(plan).not.toContain('"Seq Scan"');
    expect(plan).not.toContain('"Sort"');

    const latest = await createInteractionRepository(db).latestByKind(t.id, Number(user.id), 8);
    expect(latest.filter((r) => r.kind === 'LIKE')).toHaveLength(8);
    expect(latest.filter((r) => r.kind === 'DISLIKE')).toHaveLength(8);
    const likes = latest.filter((r) => r.kind === 'LIKE').map((r) => r.id);
    expect(likes).toEqual([...likes].sort((x, y) => y - x));
  });
});
