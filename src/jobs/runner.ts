// The jobs: pg-boss in the platform's PostgreSQL (running as tastegraph_app), the one schedule
// (TRAINING_CRON, UTC), the training queue, and a sweep that
//   - marks runs whose heartbeat stopped as FAILED (their trainer or process died), and
//   - sends a job for every queued run that has none (startTraining queues a run through the
//     API, which does not touch the job queue; the event below makes that immediate, the sweep
//     makes it certain).
// Background work never fails silently: each failure is logged with its context and counted.
import PgBoss from 'pg-boss';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import type { TrainingRunService } from '../services/training-run.service.js';
import { handleFanOut, handleTrainingRun } from './handlers/training.js';
import { handleTasteGroups } from './handlers/taste-groups.js';
import type { TasteGroups } from '../services/taste-group.service.js';
import type { TrainingSchedule } from '../services/training-schedule.service.js';
import { QUEUES, type TasteGroupsJob, type TrainingRunJob } from './queues.js';

export interface JobRunnerOptions {
  /** The database the jobs live in, as tastegraph_app (owner of the pgboss schema). */
  connectionString: string;
  /** pg-boss's schema (the migrator installs it). */
  schema: string;
  schedule: TrainingSchedule;
  runs: TrainingRunService;
  bus: EventBus;
  log: Logger;
  cron: string;
  retries: number;
  timeoutMinutes: number;
  staleSeconds: number;
  /** How often the sweep runs (ms); default: a quarter of staleSeconds, at most 15 s. */
  sweepMs?: number;
  onError?: (component: string, error: unknown) => void;
  /** Taste groups: after each promotion, and hourly for tenants whose users changed. */
  tasteGroups: {
    groups: Pick<TasteGroups, 'refresh' | 'tenantsDue'>;
    cron: string;
  };
}

export interface JobRunner {
  /** Sends a nightly fan-out now, through the queue, as the schedule does. */
  triggerNightly(): Promise<void>;
  /** Sends the hourly taste-group fan-out now, through the queue, as the schedule does. */
  triggerTasteGroups(): Promise<void>;
  /** Queued runs without a job get one; stale runs are failed. */
  sweep(): Promise<void>;
  stop(): Promise<void>;
}

export async function startJobRunner(o: JobRunnerOptions): Promise<JobRunner> {
  const log = o.log.child({ component: 'jobs' });
  const failed = (component: string, error: unknown, message: string, context: Record<string, unknown> = {}) => {
    o.onError?.(component, error);
    log.error({ err: error, ...context }, message);
  };
  const boss = new PgBoss({ connectionString: o.connectionString, schema: o.schema, max: 3, application_name: 'tastegraph-jobs' });
  // pg-boss reports its own background failures (a lost connection, say) here and carries on.
  boss.on('error', (error) => failed('job-queue', error, 'job queue error; pg-boss retries'));
  await boss.start();
  // Created once per database; updated at every start, so changed settings take effect.
  const queues = [
    { name: QUEUES.NIGHTLY, retryLimit: 3, retryBackoff: true, retryDelay: 60 },
    { name: QUEUES.TRAINING_RUN, retryLimit: o.retries, retryBackoff: true, retryDelay: 30, expireInSeconds: o.timeoutMinutes * 60 },
    { name: QUEUES.TASTE_GROUPS_HOURLY, retryLimit: 2, retryBackoff: true, retryDelay: 60 },
    // One waiting job per tenant is enough (stately: a second send while one waits is dropped).
    { name: QUEUES.TASTE_GROUPS, policy: 'stately' as const, retryLimit: 3, retryBackoff: true, retryDelay: 30, expireInSeconds: 30 * 60 },
  ];
  for (const queue of queues) {
    await boss.createQueue(queue.name, queue);
    await boss.updateQueue(queue.name, queue);
  }
  await boss.schedule(QUEUES.NIGHTLY, o.cron, {}, { tz: 'UTC' });
  await boss.schedule(QUEUES.TASTE_GROUPS_HOURLY, o.tasteGroups.cron, {}, { tz: 'UTC' });

  async function groupTenant(tenantId: string, trigger: TasteGroupsJob['trigger']) {
    try {
      await boss.send(QUEUES.TASTE_GROUPS, { tenantId, trigger } satisfies TasteGroupsJob, { singletonKey: tenantId });
    } catch (error) {
      failed('taste-groups-schedule', error, 'could not queue taste groups of a tenant; the next hour tries again', { tenantId, trigger });
    }
  }

  async function groupFanOut() {
    const due = await o.tasteGroups.groups.tenantsDue();
    for (const tenantId of due) await groupTenant(tenantId, 'SCHEDULE');
    log.info({ tenants: due.length }, 'hourly taste-group fan-out done');
  }

  async function dispatch(tenantId: string, runId: string) {
    const jobId = await boss.send(QUEUES.TRAINING_RUN, { tenantId, runId } satisfies TrainingRunJob);
    if (jobId) await o.schedule.jobSent({ tenantId, runId }, jobId);
    log.info({ tenantId, runId, jobId }, 'training run sent to the queue');
  }

  async function fanOut(): Promise<number> {
    let started = 0;
    for (const tenantId of await o.schedule.tenantsDue()) {
      try {
        const { run, created } = await o.schedule.queueScheduled(tenantId);
        if (!created) continue; // one queued or running already
        await dispatch(tenantId, run.id);
        started++;
      } catch (error) {
        failed('training-schedule', error, 'could not queue the nightly run of a tenant; the sweep or the next night tries again', { tenantId });
      }
    }
    log.info({ started }, 'nightly training fan-out done');
    return started;
  }

  let sweeping: Promise<void> | undefined;
  async function sweepOnce() {
    for (const { tenantId, runId } of await o.schedule.failStaleRuns(o.staleSeconds)) {
      failed('training-run', new Error('heartbeat stopped'), 'training run marked failed: its heartbeat stopped (trainer or process killed)', {
        tenantId,
        runId,
      });
    }
    for (const { tenantId, runId } of await o.schedule.runsWithoutJob()) await dispatch(tenantId, runId);
  }
  const sweep = () =>
    (sweeping ??= sweepOnce()
      .catch((error) => failed('training-sweep', error, 'training sweep failed; it runs again shortly'))
      .finally(() => (sweeping = undefined)));

  const shutdown = new AbortController();
  await boss.work(QUEUES.NIGHTLY, { pollingIntervalSeconds: 2 }, handleFanOut(fanOut));
  await boss.work<TrainingRunJob>(
    QUEUES.TRAINING_RUN,
    { includeMetadata: true, batchSize: 1, pollingIntervalSeconds: 1 },
    handleTrainingRun(o.runs, shutdown.signal),
  );
  await boss.work(QUEUES.TASTE_GROUPS_HOURLY, { pollingIntervalSeconds: 2 }, handleFanOut(groupFanOut));
  await boss.work<TasteGroupsJob>(QUEUES.TASTE_GROUPS, { batchSize: 1, pollingIntervalSeconds: 1 }, handleTasteGroups(o.tasteGroups.groups, log));
  const unsubscribe = o.bus.subscribe((event) => {
    if (event.type === 'training-requested') void sweep();
    // A tenant's own version now serves: its users' representations change, and their groups.
    if (event.type === 'model-promoted' && event.tenantId) void groupTenant(event.tenantId, 'PROMOTION');
  });
  const timer = setInterval(() => void sweep(), o.sweepMs ?? Math.min(15_000, (o.staleSeconds * 1000) / 4));
  timer.unref();
  void sweep();
  log.info({ cron: o.cron, tasteGroupsCron: o.tasteGroups.cron }, 'jobs started: nightly training and hourly taste groups scheduled');

  return {
    async triggerNightly() {
      await boss.send(QUEUES.NIGHTLY, {});
    },
    async triggerTasteGroups() {
      await boss.send(QUEUES.TASTE_GROUPS_HOURLY, {});
    },
    sweep,
    async stop() {
      clearInterval(timer);
      unsubscribe();
      shutdown.abort(); // runs in progress go back to the queue
      await sweeping;
      await boss.stop({ graceful: true, wait: true, timeout: 20_000 });
    },
  };
}
