// The API's watch for a new serving model: a failed check is reported, not swallowed, and a
// new version is announced on the bus so live feeds re-rank.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { watchModelVersions } from '../../src/apps/wiring/scorer.js';
import { createInProcessBus, type PlatformEvent } from '../../src/events/event-bus.js';
import { NO_SCORER, type Scorer } from '../../src/inference/scorer.js';

describe('watchModelVersions', () => {
  it('reports a failed check and announces a version change', async () => {
    const answers: (() => Promise<{ version: string; embeddingDim: number } | undefined>)[] = [
      async () => ({ version: '1', embeddingDim: 8 }),
      async () => {
        throw new Error('worker metadata unreadable');
      },
      async () => ({ version: '2', embeddingDim: 8 }),
    ];
    const scorer: Scorer = {
      ...NO_SCORER,
      modelInfo: () => (answers.shift() ?? (async () => ({ version: '2', embeddingDim: 8 })))(),
      score: async () => {
        throw new Error('unused');
      },
      load: async () => [],
      close: async () => {},
    };
    const bus = createInProcessBus();
    const events: PlatformEvent[] = [];
    bus.subscribe((e) => events.push(e));
    const errors: unknown[] = [];
    const stop = watchModelVersions(scorer, bus, pino({ level: 'silent' }), (error) => errors.push(error), 10);
    try {
      for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(errors.map((e) => (e as Error).message)).toEqual(['worker metadata unreadable']);
      expect(events).toEqual([{ type: 'model-promoted', version: '2' }]);
    } finally {
      stop();
    }
  });
});
