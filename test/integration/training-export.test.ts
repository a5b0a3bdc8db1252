// The training export on real PostgreSQL, read back by the trainer's own reader (the contract's
// other side): every item and interaction of the tenant and nothing of another, ids that need
// CSV quoting, vectors bit for bit, pairs kept, and the held-out users exactly those the hash says.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/repositories/database.js';
import { createTrainingDataRepository } from '../../src/repositories/training-data.repository.js';
import { createServices } from '../../src/apps/wiring/services.js';
import { exportDataset } from '../../src/training/dataset-export.js';
import { isHeldOut } from '../../src/training/split.js';
import { REPOSITORY_ROOT } from '../../src/trainer/python.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeEvents, makeItems, type TestTenant } from '../helpers/factories.js';

/** What trainer/data.py's read_dataset makes of a dataset folder. */
function readWithTrainer(dir: string) {
  const script = `
import json, sys
from trainer.data import read_dataset
d = read_dataset(sys.argv[1])
print(json.dumps({
  "items": d.item_ids, "prompts": d.prompts, "vectors": d.vectors.tolist(),
  "users": {u: [[d.item_ids[r.item], r.label, r.ts, r.pair] for r in rows] for u, rows in d.users.items()},
}))`;
  return JSON.parse(execFileSync(loadConfig().trainerPython, ['-c', script, dir], { cwd: REPOSITORY_ROOT, encoding: 'utf8' }));
}

describe('training export', () => {
  let testDb: TestDatabase;
  let db: Database;
  let a: TestTenant;
  const USERS = ['alice', 'bob, the "builder"', 'carol;x', 'dörte 🌸', ...Array.from({ length: 26 }, (_, i) => `user-${i}`)];

  beforeAll(async () => {
    testDb = await createTestDatabase('export');
    db = createDatabase({ connectionString: testDb.appUrl, poolSize: 2 });
    const services = createServices(db);
    a = await createTestTenant(testDb.adminUrl, 4);
    const other = await createTestTenant(testDb.adminUrl, 4);
    const items = makeItems(12, 4).map((item, i) => ({ ...item, prompt: i === 0 ? 'a fox, "watercolor"\nsecond line' : item.prompt }));
    await services.items.upsert(a.app, items);
    await services.items.upsert(other.app, makeItems(5, 4, 'foreign'));
    await services.interactions.record(other.app, makeEvents(20, { items: 5, itemPrefix: 'foreign' }));
    const events = USERS.flatMap((user, u) =>
      Array.from({ length: 10 }, (_, k) => ({
        userId: user,
        itemId: `item-${(u + k) % 12}`,
        kind: k % 2 === 0 ? ('LIKE' as const) : ('DISLIKE' as const),
        pairId: k < 2 ? `${u}-pair` : undefined,
      })),
    );
    await services.interactions.record(a.app, events);
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it("writes the tenant's items and interactions as two datasets the trainer reads, split by the hash of the user id", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-export-'));
    const { trainDir, heldOutDir, stats } = await exportDataset(createTrainingDataRepository(db), a.id, dir, 30);
    const train = readWithTrainer(trainDir);
    const heldOut = readWithTrainer(heldOutDir);
    expect(train.items).toEqual(Array.from({ length: 12 }, (_, i) => `item-${i}`));
    expect(train.prompts[0]).toBe('a fox, "watercolor"\nsecond line');
    expect(heldOut.items).toEqual(train.items);
    const expected = makeItems(12, 4).map((item) => item.embedding);
    expect(train.vectors).toEqual(expected); // float32 in, float32 out: exact
    expect(Object.keys(heldOut.users).sort()).toEqual(USERS.filter((u) => isHeldOut(u, 30)).sort());
    expect(Object.keys(train.users).sort()).toEqual(USERS.filter((u) => !isHeldOut(u, 30)).sort());
    const all = { ...train.users, ...heldOut.users };
    // Each user's rows in the order stored, with the pair kept on the two rows that share it.
    USERS.forEach((user, u) => {
      expect(
        all[user].map((r: unknown[]) => [r[0], r[1], r[3]]),
        user,
      ).toEqual(Array.from({ length: 10 }, (_, k) => [`item-${(u + k) % 12}`, k % 2 === 0 ? 1 : 0, k < 2 ? `${u}-pair` : '']));
    });
    expect(stats).toMatchObject({ items: 12, dim: 4, interactions: 300, likes: 150, dislikes: 150 });
    expect(stats.train.users + stats.heldOut.users).toBe(USERS.length);
    // 5 likes and 5 dislikes each: EVAL-1(1), (2) and (4) can evaluate every user, EVAL-1(8) none.
    expect(stats.heldOut.usersWithHistory).toEqual({ 1: stats.heldOut.users, 2: stats.heldOut.users, 4: stats.heldOut.users, 8: 0 });
    expect(readFileSync(join(trainDir, 'interactions.csv'), 'utf8').split('\n')[0]).toBe('user,item,label,ts,pair');
  });
});
