// Follows one training run for a subscriber (trainingRunUpdated): the run as it is now, then
// again each time it moves on (a heartbeat alone does not count), until it ends. The jobs process announces each start, stage,
// epoch and end on the event bus (training-run-changed); each announcement makes the follower
// read the run again and pass it on if anything a client sees changed. A slow poll backs the
// announcements up, so that one lost (a NOTIFY that failed, a write no announcement follows)
// delays an update by at most pollMs instead of losing it; after a gap in the event stream
// (bus-resynced) the run is read at once. A read that fails (the database restarting) is
// logged and tried again at the next announcement or poll: the subscription lives on.
import { AppError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import type { TrainingRunRow } from '../repositories/model-registry.repository.js';
import type { TrainingService } from './training.service.js';
import { DONE, pushStream } from './push-stream.js';
import type { Viewer } from './viewer.js';

const ENDED = new Set(['SUCCEEDED', 'SKIPPED', 'FAILED']);

export interface TrainingRunUpdatesOptions {
  runs: Pick<TrainingService, 'run'>;
  bus: EventBus;
  log: Logger;
  /** The backing poll (ms) between announcements. */
  pollMs: number;
  onError?: (error: unknown) => void;
}

/** An update stream that can also be ended from outside (a revoked key), with the error its client gets. */
export interface TrainingRunFollower extends AsyncIterableIterator<TrainingRunRow> {
  end(error: Error): void;
}

export function createTrainingRunUpdates(o: TrainingRunUpdatesOptions) {
  return {
    /** The run now (NOT_FOUND and FORBIDDEN as trainingRun answers), then each change, ending after its end. */
    follow(viewer: Viewer, runId: string): TrainingRunFollower {
      let last: string | undefined;
      let lastEnded = false;
      let stale = true; // read it (again) before waiting
      let wake: (() => void) | undefined;
      let closed = false;
      let failure: Error | undefined;

      const poke = () => {
        stale = true;
        wake?.();
      };
      const unsubscribe = o.bus.subscribe((event) => {
        if (event.type === 'bus-resynced') return poke();
        if (!('tenantId' in event) || event.tenantId !== viewer.tenantId) return;
        if (event.type === 'training-run-changed' && event.runId === runId) poke();
        if (event.type === 'tenant-deleted') end(new AppError('UNAUTHENTICATED', 'this tenant was deleted; its subscriptions have ended'));
      });
      const timer = setInterval(poke, o.pollMs);
      timer.unref();

      function close() {
        if (closed) return;
        closed = true;
        clearInterval(timer);
        unsubscribe();
        wake?.();
      }
      function end(error: Error) {
        failure ??= error;
        close();
      }
      const ended = () => {
        if (failure) throw failure;
        return DONE;
      };

      async function next(): Promise<IteratorResult<TrainingRunRow>> {
        const first = last === undefined;
        if (lastEnded) close();
        while (!closed) {
          if (!stale) {
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
            continue;
          }
          stale = false;
          let run: TrainingRunRow;
          try {
            run = await o.runs.run(viewer, runId);
          } catch (error) {
            // An answer for the client (FORBIDDEN, NOT_FOUND), or no first read at all: the
            // subscription ends with it. Later failures of the database are waited out.
            if (first || error instanceof AppError) {
              end(error as Error);
              break;
            }
            o.onError?.(error);
            o.log.warn({ err: error, tenantId: viewer.tenantId, runId }, 'reading a followed training run failed; trying again at its next change or poll');
            continue;
          }
          if (closed) break;
          // A heartbeat alone is no news: the run is pushed when something else moved.
          const seen = JSON.stringify({ ...run, heartbeatAt: undefined, jobId: undefined });
          if (seen === last) continue;
          last = seen;
          lastEnded = ENDED.has(run.status);
          return { done: false, value: run };
        }
        return ended();
      }
      return Object.assign(pushStream(next, close), { end });
    },
  };
}

export type TrainingRunUpdates = ReturnType<typeof createTrainingRunUpdates>;
