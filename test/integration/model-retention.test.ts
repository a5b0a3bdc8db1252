// Retention of the tenants' model files (TRAINING_KEEP_VERSIONS) on real PostgreSQL and a real
// store on disk: which folders go, what the registry says of them, that a removed version cannot
// be promoted, that a crash between marking and removing heals on the next run, and that one
// tenant's retention never touches another's files.
import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../src/apps/wiring/services.js';
import { tenantModelName } from '../../src/inference/model-names.js';
import { createDatabase, type Database } from '../../src/repositories/database.js';
import { createModelRegistryRepository, type ModelRegistryRepository } from '../../src/repositories/model-registry.repository.js';
import { createModelRetention } from '../../src/services/model-retention.service.js';
import { createArtifactStore, type ArtifactStore } from '../../src/training/artifact-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, type TestTenant } from '../helpers/factories.js';

/** What each of a tenant's versions ends as, in version order (1-based). */
type Outcome = 'PROMOTED' | 'REJECTED' | 'FAILED';

describe('model file retention', () => {
  let testDb: TestDatabase;
  let db: Database;
  let registry: ModelRegistryRepository;
  let store: ArtifactStore;
  let services: Services;
  let files: { onnx: string; checkpoint: string };
  let a: TestTenant;
  let b: TestTenant;
  const log = pino({ level: 'silent' });

  /** Trains nothing: records a run and a version the way a run does, with files in the store. */
  async function addVersion(tenantId: string, outcome: Outcome): Promise<number> {
    const { run } = await registry.queueRun(tenantId, 'MANUAL');
    await registry.startRun(tenantId, run.id, `job-${run.id}`);
    const candidate = await registry.insertCandidate(tenantId, {
      parentVersion: null,
      startedFrom: null,
      embeddingDim: 4,
      trainingRunId: run.id,
      trainedAt: new Date(),
      artifactSha256: '0'.repeat(64),
      artifactBytes: 1,
      tasteClasses: null,
    });
    await store.put(tenantId, candidate.version, files);
    if (outcome === 'PROMOTED') await registry.promote(tenantId, candidate.version, 'GATE');
    else await registry.judgeCandidate(tenantId, candidate.version, { status: outcome, reason: 'test' });
    await registry.finishRun(tenantId, run.id, { status: 'SUCCEEDED' });
    return candidate.version;
  }

  const folders = (tenantId: string) => readdirSync(join(store.dir, tenantModelName(tenantId))).sort();
  const removedVersions = async (tenantId: string) =>
    (await registry.listVersions(tenantId, 100))
      .filter((v) => v.artifactRemovedAt !== null)
      .map((v) => v.version)
      .sort((x, y) => x - y);

  beforeAll(async () => {
    testDb = await createTestDatabase('retention');
    db = createDatabase({ connectionString: testDb.appUrl, poolSize: 2 });
    registry = createModelRegistryRepository(db);
    const root = mkdtempSync(join(tmpdir(), 'tastegraph-retention-'));
    store = createArtifactStore(join(root, 'store'));
    services = createServices(db, { artifacts: store });
    files = { onnx: join(root, 'model.onnx'), checkpoint: join(root, 'ckpt.pt') };
    writeFileSync(files.onnx, 'not read by retention');
    writeFileSync(files.checkpoint, 'not read by retention');
    a = await createTestTenant(testDb.adminUrl, 4);
    b = await createTestTenant(testDb.adminUrl, 4);
    // a: 1 and 2 served, then 5; 3, 4 and 6-8 never did.
    for (const outcome of ['PROMOTED', 'PROMOTED', 'REJECTED', 'FAILED', 'PROMOTED', 'REJECTED', 'REJECTED', 'REJECTED'] as const) {
      await addVersion(a.id, outcome);
    }
    for (const outcome of ['PROMOTED', 'REJECTED', 'REJECTED'] as const) await addVersion(b.id, outcome);
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('keeps the newest versions, the serving one and the one before it, and marks the rest removed', async () => {
    // Staging folders: one a dead process left two hours ago, one being written now.
    const modelDir = join(store.dir, tenantModelName(a.id));
    mkdirSync(join(modelDir, '9.partial-111'));
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    utimesSync(join(modelDir, '9.partial-111'), twoHoursAgo, twoHoursAgo);
    mkdirSync(join(modelDir, '9.partial-222'));

    const retention = createModelRetention({ registry, artifacts: store, keepVersions: 2, log });
    expect(await retention.retain(a.id)).toEqual({ removed: [1, 3, 4, 6], staging: ['9.partial-111'] });
    expect(folders(a.id)).toEqual(['2', '5', '7', '8', '9.partial-222']);
    expect(await removedVersions(a.id)).toEqual([1, 3, 4, 6]);
    // The rows stay, with what they were.
    const one = await registry.findVersion(a.id, 1);
    expect(one).toMatchObject({ status: 'RETIRED', artifactSha256: '0'.repeat(64) });

    // Nothing more to do the second time; the other tenant's files were never read.
    expect(await retention.retain(a.id)).toEqual({ removed: [], staging: [] });
    expect(folders(b.id)).toEqual(['1', '2', '3']);
  });

  it('refuses to promote a version whose files are gone, naming the setting, and changes nothing', async () => {
    await expect(services.training.promote(a.admin, 3)).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/model version 3 cannot serve: retention removed its files .*TRAINING_KEEP_VERSIONS/),
    });
    // The registry refuses it too, for a promotion that read the row before retention marked it.
    expect(await registry.promote(a.id, 3, 'MANUAL')).toBeUndefined();
    expect((await registry.promoted(a.id))?.version).toBe(5);
  });

  it('removes on the next run the files of a version marked removed that a crash left on disk', async () => {
    await store.put(a.id, 1, files); // as if the process died after marking, before removing
    const retention = createModelRetention({ registry, artifacts: store, keepVersions: 2, log });
    expect((await retention.retain(a.id)).removed).toEqual([1]);
    expect(folders(a.id)).toEqual(['2', '5', '7', '8', '9.partial-222']);
  });

  it('keeps every version at TRAINING_KEEP_VERSIONS=0, and the other tenant by its own rows', async () => {
    expect(await createModelRetention({ registry, artifacts: store, keepVersions: 0, log }).retain(b.id)).toEqual({ removed: [], staging: [] });
    expect(folders(b.id)).toEqual(['1', '2', '3']);
    // b: 1 serves, 2 and 3 rejected; keeping 1 keeps 3 (newest) and 1 (serving).
    expect((await createModelRetention({ registry, artifacts: store, keepVersions: 1, log }).retain(b.id)).removed).toEqual([2]);
    expect(folders(b.id)).toEqual(['1', '3']);
    expect(await removedVersions(a.id)).toEqual([1, 3, 4, 6]);
  });
});
