// trainingRunUpdated's follower: when it reads its run again, what it pushes, and when it ends.
// The run is read from an in-memory stand-in for the training service; the API test
// (test/api/training.test.ts) follows a real run on PostgreSQL.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createInProcessBus, type EventBus } from '../../src/events/event-bus.js';
import type { TrainingRunRow } from '../../src/repositories/model-registry.repository.js';
import { createTrainingRunUpdates } from '../../src/services/training-run-updates.service.js';
import type { Viewer } from '../../src/services/viewer.js';

const viewer: Viewer = { tenantId: 't1', role: 'admin', keyId: 'k' };
const queued: TrainingRunRow = {
  id: 'r1',
  tenantId: 't1',
  trigger: 'MANUAL',
  status: 'QUEUED',
  stage: null,
  epoch: null,
  epochs: null,
  loss: null,
  validationAccuracy: null,
  jobId: null,
  heartbeatAt: null,
  queuedAt: new Date(0),
  startedAt: null,
  finishedAt: null,
  error: null,
  skipReason: null,
  dataWatermark: null,
  attempts: 0,
  dataset: null,
  timings: null,
};

function setUp(pollMs = 60_000) {
  const bus: EventBus = createInProcessBus();
  const state = { run: { ...queued }, reads: 0, failWith: undefined as Error | undefined };
  const updates = createTrainingRunUpdates({
    runs: {
      run: async (v, id) => {
        state.reads++;
        if (state.failWith) throw state.failWith;
        if (v.tenantId !== 't1' || id !== 'r1') throw new AppError('NOT_FOUND', `training run "${id}" not found`);
        return { ...state.run };
      },
    },
    bus,
    log: pino({ level: 'silent' }),
    pollMs,
  });
  const changed = (patch: Partial<TrainingRunRow>, announce = true) => {
    state.run = { ...state.run, ...patch };
    if (announce) void bus.publish({ type: 'training-run-changed', tenantId: 't1', runId: 'r1' });
  };
  return { bus, state, updates, changed };
}

/** The next push, or 'none' if nothing came within `ms`. */
const within = <T>(promise: Promise<T>, ms = 100) => Promise.race([promise, new Promise<'none'>((r) => setTimeout(() => r('none'), ms))]);

describe('following a training run', () => {
  it('pushes the run now, then each change announced, and completes after its end', async () => {
    const { updates, changed } = setUp();
    const follower = updates.follow(viewer, 'r1');
    expect((await follower.next()).value).toMatchObject({ status: 'QUEUED' });
    const next = follower.next();
    changed({ status: 'RUNNING', stage: 'EXPORTING' });
    expect((await next).value).toMatchObject({ status: 'RUNNING', stage: 'EXPORTING' });
    changed({ stage: 'TRAINING', epoch: 1, epochs: 3 });
    expect((await follower.next()).value).toMatchObject({ stage: 'TRAINING', epoch: 1 });
    changed({ status: 'SUCCEEDED', stage: null });
    expect((await follower.next()).value).toMatchObject({ status: 'SUCCEEDED' });
    expect(await follower.next()).toEqual({ done: true, value: undefined });
  });

  it('does not push a heartbeat alone, nor a run that did not change, nor another run', async () => {
    const { bus, updates, changed, state } = setUp();
    const follower = updates.follow(viewer, 'r1');
    await follower.next();
    const next = follower.next();
    changed({ heartbeatAt: new Date(5) });
    void bus.publish({ type: 'training-run-changed', tenantId: 't1', runId: 'r2' });
    void bus.publish({ type: 'training-run-changed', tenantId: 't2', runId: 'r1' });
    expect(await within(next)).toBe('none');
    expect(state.reads).toBe(2); // the first push, and the announced heartbeat
    changed({ status: 'RUNNING' });
    expect((await next).value).toMatchObject({ status: 'RUNNING', heartbeatAt: new Date(5) });
    await follower.return!();
  });

  it('finds a change no announcement told of by its poll', async () => {
    const { updates, changed } = setUp(30);
    const follower = updates.follow(viewer, 'r1');
    await follower.next();
    changed({ status: 'FAILED', error: 'killed' }, false);
    expect((await follower.next()).value).toMatchObject({ status: 'FAILED', error: 'killed' });
    expect((await follower.next()).done).toBe(true);
  });

  it('reads again after a gap in the event stream', async () => {
    const { bus, updates, changed } = setUp();
    const follower = updates.follow(viewer, 'r1');
    await follower.next();
    changed({ status: 'RUNNING' }, false);
    void bus.publish({ type: 'bus-resynced' });
    expect((await follower.next()).value).toMatchObject({ status: 'RUNNING' });
    await follower.return!();
  });

  it('lives through a failed read (the database restarting) and pushes once it reads again', async () => {
    const { updates, changed, state } = setUp(20);
    const follower = updates.follow(viewer, 'r1');
    await follower.next();
    state.failWith = new Error('connection terminated');
    const next = follower.next();
    changed({ status: 'RUNNING' });
    await new Promise((r) => setTimeout(r, 60)); // announced and polled while reads fail
    expect(state.reads).toBeGreaterThan(2);
    state.failWith = undefined;
    expect((await next).value).toMatchObject({ status: 'RUNNING' });
    await follower.return!();
  });

  it('answers NOT_FOUND for a run the tenant does not have, and ends with the error it is ended with', async () => {
    const { bus, updates } = setUp();
    await expect(updates.follow({ ...viewer, tenantId: 't2' }, 'r1').next()).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const revoked = updates.follow(viewer, 'r1');
    await revoked.next();
    const waiting = revoked.next();
    revoked.end(new AppError('UNAUTHENTICATED', 'this API key has been revoked'));
    await expect(waiting).rejects.toThrow(/revoked/);
    const deleted = updates.follow(viewer, 'r1');
    await deleted.next();
    const pending = deleted.next();
    void bus.publish({ type: 'tenant-deleted', tenantId: 't1' });
    await expect(pending).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
