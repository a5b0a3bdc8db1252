// The jobs process lives through its database restarting (on a cluster of the test's own): the
// job queue, the sweep and the event bus reconnect, and a run queued after the restart trains
// and promotes as if nothing had happened.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/repositories/database.js';
import { createModelRegistryRepository } from '../../src/repositories/model-registry.repository.js';
import { createServices } from '../../src/apps/wiring/services.js';
import { createTestCluster, type TestCluster } from '../helpers/cluster.js';
import { createTestTenant, type TestTenant } from '../helpers/factories.js';
import { startProcess, type StartedProcess } from '../helpers/processes.js';
import { FAST_TRAINING, eventually, runFinished, seedWorld } from '../helpers/training.js';
import { addVersion } from '../helpers/worker.js';

describe('the jobs process and a PostgreSQL restart', () => {
  let cluster: TestCluster;
  let db: Database;
  let a: TestTenant;
  let jobs: StartedProcess | undefined;

  beforeAll(async () => {
    cluster = await createTestCluster('jobs');
    db = createDatabase({ connectionString: cluster.appUrl, poolSize: 2 });
    a = await createTestTenant(cluster.adminUrl, 16);
    await seedWorld(createServices(db), a.admin, 16, { seed: 5 });
  });
  afterAll(async () => {
    await jobs?.stop();
    await db?.close();
    await cluster?.drop();
  });

  it('trains a run queued after the restart, and the process never exits', async () => {
    const base = mkdtempSync(join(tmpdir(), 'tg-faults-base-'));
    addVersion(base, 1);
    jobs = await startProcess('jobs', {
      ...FAST_TRAINING,
      DATABASE_URL: cluster.appUrl,
      MODEL_STORE: base,
      TENANT_MODEL_STORE: mkdtempSync(join(tmpdir(), 'tg-faults-models-')),
      TRAINING_WORK_DIR: mkdtempSync(join(tmpdir(), 'tg-faults-work-')),
      TRAINING_STALE_SECONDS: '8', // the sweep runs every 2 s
    });
    await cluster.restart();
    const registry = createModelRegistryRepository(db);
    const { run } = await eventually('the database is back', () => registry.queueRun(a.id, 'MANUAL'), 60_000);
    const done = await runFinished(registry, a.id, run.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', error: null });
    expect(await registry.promoted(a.id)).toMatchObject({ version: 1, trainingRunId: run.id });
    expect(jobs.child.exitCode).toBeNull();
    // It did feel the restart: its event bus lost its connection and came back.
    expect(jobs.output()).toMatch(/event bus: listening connection lost/);
    expect(jobs.output()).not.toMatch(/Unhandled|uncaught/i);
  }, 300_000);
});
