import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { PlatformEvent } from '../../src/events/event-bus.js';
import { createTrainingSchedule } from '../../src/services/training-schedule.service.js';

const stale = [
  { tenantId: 't1', runId: 'r1' },
  { tenantId: 't2', runId: 'r2' },
];

function registry() {
  return {
    tenantsDueForTraining: async () => ['t1'],
    queueRun: async () => {
      throw new Error('not used');
    },
    runsToDispatch: async () => [],
    setJob: async () => {},
    failStaleRuns: async () => stale,
  };
}

describe('training schedule', () => {
  it('announces each run the sweep failed, so its followers see it at once', async () => {
    const published: PlatformEvent[] = [];
    const schedule = createTrainingSchedule({ registry: registry(), bus: { publish: async (e) => void published.push(e) }, log: pino({ level: 'silent' }) });
    expect(await schedule.failStaleRuns(60)).toEqual(stale);
    expect(published).toEqual([
      { type: 'training-run-changed', tenantId: 't1', runId: 'r1' },
      { type: 'training-run-changed', tenantId: 't2', runId: 'r2' },
    ]);
  });

  it('returns the failed runs when the bus is away, counting each lost announcement', async () => {
    const errors: string[] = [];
    const schedule = createTrainingSchedule({
      registry: registry(),
      bus: {
        publish: async () => {
          throw new Error('connection terminated');
        },
      },
      log: pino({ level: 'silent' }),
      onError: (component) => errors.push(component),
    });
    expect(await schedule.failStaleRuns(60)).toEqual(stale);
    expect(errors).toEqual(['training-run-announce', 'training-run-announce']);
  });
});
