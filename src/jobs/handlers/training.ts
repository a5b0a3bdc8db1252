// Job handlers: unpack the job, call one service. pg-boss retries a handler that throws.
import type PgBoss from 'pg-boss';
import type { TrainingRunService } from '../../services/training-run.service.js';
import type { TasteGroupsJob, TrainingRunJob } from '../queues.js';
import type { TasteGroups } from '../../services/taste-group.service.js';
import type { Logger } from '../../logger.js';
import { isAppError } from '../../errors.js';

/** One attempt at a queued run; a failure that may pass is thrown, so pg-boss retries it with backoff. */
export function handleTrainingRun(runs: TrainingRunService, shutdown: AbortSignal) {
  return async ([job]: PgBoss.JobWithMetadata<TrainingRunJob>[]) => {
    const outcome = await runs.attempt(job.data.tenantId, job.data.runId, job.id, job.retryCount < job.retryLimit, shutdown);
    if (!outcome.done) throw outcome.error;
  };
}

/** The nightly fan-out. */
export function handleNightly(fanOut: () => Promise<unknown>) {
  return async () => {
    await fanOut();
  };
}

/**
 * One tenant's taste groups. A CONFLICT (no model represents its users yet, or too few users
 * have enough history) is an answer, not a failure: logged, not retried.
 */
export function handleTasteGroups(groups: Pick<TasteGroups, 'refresh'>, log: Logger) {
  return async ([job]: PgBoss.Job<TasteGroupsJob>[]) => {
    try {
      await groups.refresh(job.data.tenantId, job.data.trigger);
    } catch (error) {
      if (isAppError(error) && error.code === 'CONFLICT') return log.info({ tenantId: job.data.tenantId, reason: error.message }, 'taste groups not refreshed');
      throw error;
    }
  };
}
