// What the jobs process asks of the training runs around the trainer itself: which tenants the
// nightly trains, a scheduled run queued for one, the queued runs that still need a job (an
// API's startTraining cannot reach the job queue), and the runs whose trainer stopped giving
// signs of life. The jobs layer is an adapter: it reaches the registry only through here.
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import type { ModelRegistryRepository, TrainingRunRow } from '../repositories/model-registry.repository.js';

export interface TrainingScheduleOptions {
  registry: Pick<ModelRegistryRepository, 'tenantsDueForTraining' | 'queueRun' | 'runsToDispatch' | 'setJob' | 'failStaleRuns'>;
  bus: Pick<EventBus, 'publish'>;
  log: Logger;
  onError?: (component: string, error: unknown) => void;
}

export interface RunRef {
  tenantId: string;
  runId: string;
}

export function createTrainingSchedule(o: TrainingScheduleOptions) {
  return {
    /** Tenants with interactions since their last finished run and no run queued or running. */
    tenantsDue: (): Promise<string[]> => o.registry.tenantsDueForTraining(),

    /** Queues the nightly run of a tenant; `created` is false when one is queued or running already. */
    queueScheduled: (tenantId: string): Promise<{ run: TrainingRunRow; created: boolean }> => o.registry.queueRun(tenantId, 'SCHEDULE'),

    /** Queued runs that no job carries yet, oldest first. */
    runsWithoutJob: (): Promise<RunRef[]> => o.registry.runsToDispatch(),

    /** The job that carries a run (so a second sweep does not send another). */
    jobSent: (run: RunRef, jobId: string): Promise<void> => o.registry.setJob(run.tenantId, run.runId, jobId),

    /**
     * Marks FAILED the runs whose heartbeat is older than `staleSeconds` (their trainer or
     * process died) and tells their followers (trainingRunUpdated); returns them. An
     * announcement that fails is counted and logged, not thrown: the runs are failed already,
     * and their followers read them at their next poll.
     */
    async failStaleRuns(staleSeconds: number): Promise<RunRef[]> {
      const failed = await o.registry.failStaleRuns(staleSeconds);
      for (const { tenantId, runId } of failed) {
        await o.bus.publish({ type: 'training-run-changed', tenantId, runId }).catch((error) => {
          o.onError?.('training-run-announce', error);
          o.log.warn({ err: error, tenantId, runId }, 'could not announce a stale run failed; its followers read it at their next poll');
        });
      }
      return failed;
    },
  };
}

export type TrainingSchedule = ReturnType<typeof createTrainingSchedule>;
