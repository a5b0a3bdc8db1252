// Job handlers: unpack the job, call one service. pg-boss retries a handler that throws.
import type PgBoss from 'pg-boss';
import type { TrainingRunService } from '../../services/training-run.service.js';
import type { TrainingRunJob } from '../queues.js';

/** One attempt at a queued run; a failure that may pass is thrown, so pg-boss retries it with backoff. */
export function handleTrainingRun(runs: TrainingRunService, shutdown: AbortSignal) {
  return async ([job]: PgBoss.JobWithMetadata<TrainingRunJob>[]) => {
    const outcome = await runs.attempt(job.data.tenantId, job.data.runId, job.id, job.retryCount < job.retryLimit, shutdown);
    if (!outcome.done) throw outcome.error;
  };
}

/** A scheduled fan-out (nightly training, hourly taste groups): the work is in `fanOut`. */
export function handleFanOut(fanOut: () => Promise<unknown>) {
  return async () => {
    await fanOut();
  };
}
