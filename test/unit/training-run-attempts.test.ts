// How one attempt at a training run ends, with the registry and the data as fakes: a failure
// that may pass goes back to the queue for pg-boss's retry (with backoff) while retries are
// left, and fails the run when none are; a delivery of a run that is not queued does nothing;
// a jobs process that stops puts its run back in the queue.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createInProcessBus } from '../../src/events/event-bus.js';
import { loadConfig } from '../../src/config.js';
import { DatabaseUnavailableError } from '../../src/repositories/storage-errors.js';
import type { ModelRegistryRepository, TrainingRunRow } from '../../src/repositories/model-registry.repository.js';
import { createTrainingRunService } from '../../src/services/training-run.service.js';
import { createArtifactStore } from '../../src/training/artifact-store.js';

const RUN = { id: 'r1', tenantId: 't1', status: 'RUNNING', attempts: 1 } as TrainingRunRow;

function setup(o: { queued?: boolean; exportFails?: Error; exportWaits?: Promise<void> } = {}) {
  const calls: string[] = [];
  const registry = {
    startRun: async () => (calls.push('start'), o.queued === false ? undefined : RUN),
    heartbeat: async () => true,
    finishRun: async (_t: string, _r: string, outcome: { status: string; error?: string }) => (
      calls.push(`finish ${outcome.status}: ${outcome.error ?? ''}`),
      RUN
    ),
    requeueRun: async (_t: string, _r: string, error: string) => (calls.push(`requeue: ${error}`), true),
    releaseRun: async (_t: string, _r: string, note: string) => (calls.push(`release: ${note}`), true),
  } as unknown as ModelRegistryRepository;
  const data = {
    async exportSnapshot() {
      await o.exportWaits;
      throw o.exportFails ?? new Error('unexpected');
    },
  };
  const training = loadConfig({}).training;
  const runs = createTrainingRunService({
    registry,
    data,
    artifacts: createArtifactStore(mkdtempSync(join(tmpdir(), 'tg-attempts-store-'))),
    predictor: { loadTenantModel: async () => [] },
    bus: createInProcessBus(),
    log: pino({ level: 'silent' }),
    settings: { ...training, workDir: mkdtempSync(join(tmpdir(), 'tg-attempts-')), python: '/usr/bin/python3', baseModelStore: '/nonexistent' },
  });
  return { runs, calls };
}

const outage = () => new DatabaseUnavailableError('ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:5432)');

describe('a training run attempt', () => {
  it('puts the run back in the queue after a failure that may pass, while retries are left', async () => {
    const { runs, calls } = setup({ exportFails: outage() });
    const outcome = await runs.attempt('t1', 'r1', 'job-1', true);
    expect(outcome).toMatchObject({ done: false, retry: true });
    expect(calls).toEqual(['start', 'requeue: attempt 1 failed: database unavailable: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:5432)']);
  });

  it('fails the run when no retry is left, or when the failure will not pass', async () => {
    const last = setup({ exportFails: outage() });
    expect(await last.runs.attempt('t1', 'r1', 'job-1', false)).toMatchObject({ done: true });
    expect(last.calls).toEqual(['start', 'finish FAILED: the run failed: database unavailable: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:5432)']);
    const bug = setup({ exportFails: new TypeError('x is not a function') });
    expect(await bug.runs.attempt('t1', 'r1', 'job-1', true)).toMatchObject({ done: true });
    expect(bug.calls).toEqual(['start', 'finish FAILED: the run failed: x is not a function']);
  });

  it('does nothing for a run that is not queued (a job delivered twice)', async () => {
    const { runs, calls } = setup({ queued: false });
    expect(await runs.attempt('t1', 'r1', 'job-2', true)).toEqual({ done: true });
    expect(calls).toEqual(['start']);
  });

  it('puts its run back in the queue, not FAILED, when the jobs process stops', async () => {
    let release!: () => void;
    const { runs, calls } = setup({ exportWaits: new Promise((r) => (release = r)), exportFails: new Error('aborted') });
    const shutdown = new AbortController();
    const attempt = runs.attempt('t1', 'r1', 'job-1', true, shutdown.signal);
    shutdown.abort();
    release();
    expect(await attempt).toEqual({ done: true });
    expect(calls).toEqual(['start', 'release: attempt 1 stopped: the jobs process shut down']);
  });
});
