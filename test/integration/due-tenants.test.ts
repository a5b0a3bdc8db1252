// Which tenants the jobs take up, read across tenants by the two SECURITY DEFINER functions as
// the API's role: the nightly training (interactions past the last finished run's watermark,
// and no run queued or running) and the hourly taste groups (interactions since the latest
// snapshot, or none yet). Times and watermarks are written as the owner, so each case is exact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/repositories/database.js';
import { createModelRegistryRepository } from '../../src/repositories/model-registry.repository.js';
import { createTasteGroupRepository } from '../../src/repositories/taste-group.repository.js';
import { createTestDatabase, queryAsOwner, type TestDatabase } from '../helpers/database.js';
import { createTestTenant } from '../helpers/factories.js';

describe('tenants due for the jobs', () => {
  let testDb: TestDatabase;
  let db: Database;
  const ids: Record<string, string> = {};

  /** One interaction of the tenant at `at` (an ISO time); returns its id. */
  async function interaction(tenant: string, at: string): Promise<number> {
    const [row] = await queryAsOwner<{ id: string }>(
      testDb.adminUrl,
      `WITH u AS (INSERT INTO users (tenant_id, external_id) VALUES ($1, 'u-' || gen_random_uuid()) RETURNING id),
            i AS (INSERT INTO items (tenant_id, external_id, embedding) VALUES ($1, 'i-' || gen_random_uuid(), decode(repeat('3f', 16), 'hex')) RETURNING id)
       INSERT INTO interactions (tenant_id, user_id, item_id, kind, created_at) SELECT $1, u.id, i.id, 'LIKE', $2 FROM u, i RETURNING id`,
      [ids[tenant], at],
    );
    return Number(row.id);
  }
  const snapshot = (tenant: string, at: string) =>
    queryAsOwner(
      testDb.adminUrl,
      `INSERT INTO taste_group_snapshots (tenant_id, model, trigger, k, k_source, users, silhouette, davies_bouldin, calinski_harabasz, details, created_at)
       VALUES ($1, 'base-1', 'SCHEDULE', 2, 'SILHOUETTE', 1, 0, 0, 0, '{}', $2)`,
      [ids[tenant], at],
    );
  const run = (tenant: string, status: string, watermark: number | null) =>
    queryAsOwner(
      testDb.adminUrl,
      `INSERT INTO training_runs (tenant_id, trigger, status, data_watermark, error, skip_reason)
       VALUES ($1, 'SCHEDULE', $2, $3, CASE WHEN $2 = 'FAILED' THEN 'test' END, CASE WHEN $2 = 'SKIPPED' THEN 'test' END)`,
      [ids[tenant], status, watermark],
    );
  const named = (tenantIds: string[]) => tenantIds.map((id) => Object.keys(ids).find((name) => ids[name] === id)).sort();

  beforeAll(async () => {
    testDb = await createTestDatabase('due');
    db = createDatabase({ connectionString: testDb.appUrl, poolSize: 2 });
    for (const name of ['quiet', 'never-grouped', 'grouped-since', 'active-since', 'trained-since', 'failed-run', 'running']) {
      ids[name] = (await createTestTenant(testDb.adminUrl, 4)).id;
    }
    // quiet: nothing at all. never-grouped: interactions, no snapshot, never trained.
    await interaction('never-grouped', '2026-12-01T10:00:00Z');
    // grouped-since: its snapshot is after its last interaction, and a run took everything.
    const g = await interaction('grouped-since', '2026-12-01T10:00:00Z');
    await snapshot('grouped-since', '2026-12-01T11:00:00Z');
    await run('grouped-since', 'SUCCEEDED', g);
    // active-since: an interaction after its snapshot, and after its run's watermark.
    const a = await interaction('active-since', '2026-12-01T10:00:00Z');
    await snapshot('active-since', '2026-12-01T11:00:00Z');
    await run('active-since', 'SUCCEEDED', a);
    await interaction('active-since', '2026-12-01T12:00:00Z');
    // trained-since: grouped before its last interaction, trained through it (a SKIPPED run counts too).
    await interaction('trained-since', '2026-12-01T10:00:00Z');
    await snapshot('trained-since', '2026-12-01T09:00:00Z');
    await run('trained-since', 'SKIPPED', await interaction('trained-since', '2026-12-01T10:30:00Z'));
    // failed-run: its only finished run FAILED, which does not count; grouped after everything.
    await run('failed-run', 'FAILED', await interaction('failed-run', '2026-12-01T10:00:00Z'));
    await snapshot('failed-run', '2026-12-01T11:00:00Z');
    // running: a run under way is not started twice.
    await interaction('running', '2026-12-01T10:00:00Z');
    await run('running', 'RUNNING', null);
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('taste groups: tenants with interactions since their latest snapshot, or with none yet', async () => {
    expect(named(await createTasteGroupRepository(db).tenantsDue())).toEqual(['active-since', 'never-grouped', 'running', 'trained-since']);
  });

  it('training: tenants with interactions past their last SUCCEEDED or SKIPPED run, and none queued or running', async () => {
    expect(named(await createModelRegistryRepository(db).tenantsDueForTraining())).toEqual(['active-since', 'failed-run', 'never-grouped']);
  });
});
