// The jobs process killed mid-run (a machine lost, an OOM kill): its run must not stay RUNNING.
// Another jobs process's sweep marks it FAILED once its heartbeat is stale, the trainer stops
// too (its parent is gone), the version that served serves on, and the next run works.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/repositories/database.js';
import { createModelRegistryRepository } from '../../src/repositories/model-registry.repository.js';
import { createServices } from '../../src/apps/wiring/services.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, type TestTenant } from '../helpers/factories.js';
import { startProcess, type StartedProcess } from '../helpers/processes.js';
import { FAST_TRAINING, eventually, runFinished, seedWorld } from '../helpers/training.js';
import { addVersion } from '../helpers/worker.js';

describe('the jobs process killed during a training run', () => {
  let testDb: TestDatabase;
  let db: Database;
  let a: TestTenant;
  const started: StartedProcess[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    testDb = await createTestDatabase('faults_training');
    db = createDatabase({ connectionString: testDb.appUrl, poolSize: 2 });
    a = await createTestTenant(testDb.adminUrl, 16);
    await seedWorld(createServices(db), a.admin, 16, { seed: 5 });
    const base = mkdtempSync(join(tmpdir(), 'tg-faults-base-'));
    addVersion(base, 1);
    env = {
      ...FAST_TRAINING,
      DATABASE_URL: testDb.appUrl,
      MODEL_STORE: base,
      TENANT_MODEL_STORE: mkdtempSync(join(tmpdir(), 'tg-faults-models-')),
      TRAINING_WORK_DIR: mkdtempSync(join(tmpdir(), 'tg-faults-work-')),
      TRAINING_STALE_SECONDS: '8',
    };
  });
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await db?.close();
    await testDb?.drop();
  });

  it('leaves a FAILED run, not a RUNNING one, and the next run works', async () => {
    const registry = createModelRegistryRepository(db);
    // Slow enough to be caught training.
    const doomed = await startProcess('jobs', { ...env, TRAINING_EPOCHS: '400' });
    const { run } = await registry.queueRun(a.id, 'MANUAL');
    await eventually('training under way', async () => (((await registry.findRun(a.id, run.id))?.epoch ?? 0) >= 1 ? true : undefined), 120_000);
    doomed.child.kill('SIGKILL');
    await new Promise((r) => doomed.child.once('exit', r));
    // Its trainer notices it has lost its parent and stops within a training step.
    await eventually(
      'the orphaned trainer stopped',
      async () => {
        try {
          execFileSync('pgrep', ['-f', `trainer\\.train --data .*${run.id}`]);
          return undefined;
        } catch {
          return true; // pgrep exits 1: no such process
        }
      },
      30_000,
    );

    const next = await startProcess('jobs', env);
    started.push(next);
    const failed = await eventually(
      'the stale run failed',
      async () => {
        const r = await registry.findRun(a.id, run.id);
        return r?.status === 'FAILED' ? r : undefined;
      },
      60_000,
    );
    expect(failed.error).toMatch(/^the trainer stopped reporting: no heartbeat since .* \(more than 8 s\)/);
    expect(await registry.promoted(a.id)).toBeUndefined(); // nothing half-made serves

    const { run: retry } = await registry.queueRun(a.id, 'MANUAL');
    const done = await runFinished(registry, a.id, retry.id);
    expect(done).toMatchObject({ status: 'SUCCEEDED', error: null });
    expect(await registry.promoted(a.id)).toMatchObject({ version: 1, trainingRunId: retry.id });
  }, 400_000);
});
