// The jobs as configured: the training pipeline's parts from the config, and the runner that
// schedules and runs them. Used by `npm run jobs` and, on the embedded database, by the API.
import type { Config } from '../../config.js';
import type { EventBus } from '../../events/event-bus.js';
import type { Logger } from '../../logger.js';
import type { Predictor } from '../../inference/predictor.js';
import type { Database } from '../../repositories/database.js';
import { createModelRegistryRepository } from '../../repositories/model-registry.repository.js';
import { createTrainingDataRepository } from '../../repositories/training-data.repository.js';
import { createTrainingRunService } from '../../services/training-run.service.js';
import { createModelRetention } from '../../services/model-retention.service.js';
import { createArtifactStore } from '../../training/artifact-store.js';
import { startJobRunner, type JobRunner } from '../../jobs/runner.js';
import { JOB_SCHEMA } from '../../repositories/job-queue-schema.js';
import { createTrainingSchedule } from '../../services/training-schedule.service.js';
import type { TasteGroups } from '../../services/taste-group.service.js';

export interface JobDependencies {
  db: Database;
  /** Where pg-boss connects: the database as tastegraph_app (or the embedded one). */
  connectionString: string;
  bus: EventBus;
  predictor: Pick<Predictor, 'loadTenantModel'>;
  /** Taste groups are computed where this process scores (its services). */
  tasteGroups: Pick<TasteGroups, 'refresh' | 'tenantsDue'>;
  log: Logger;
  onError?: (component: string, error: unknown) => void;
}

export function openJobs(config: Config, d: JobDependencies): Promise<JobRunner> {
  const t = config.training;
  const registry = createModelRegistryRepository(d.db);
  const artifacts = createArtifactStore(config.worker.tenantModelStore);
  const runs = createTrainingRunService({
    registry,
    data: createTrainingDataRepository(d.db),
    artifacts,
    predictor: d.predictor,
    bus: d.bus,
    log: d.log,
    settings: { ...t, python: config.trainerPython, baseModelStore: config.worker.modelStore },
    onError: d.onError,
    retention: createModelRetention({ registry, artifacts, keepVersions: t.keepVersions, log: d.log }),
  });
  return startJobRunner({
    connectionString: d.connectionString,
    schema: JOB_SCHEMA,
    schedule: createTrainingSchedule({ registry, bus: d.bus, log: d.log, onError: d.onError }),
    runs,
    bus: d.bus,
    log: d.log,
    cron: t.cron,
    retries: t.retries,
    timeoutMinutes: t.timeoutMinutes,
    staleSeconds: t.staleSeconds,
    onError: d.onError,
    tasteGroups: { groups: d.tasteGroups, cron: config.tasteGroups.cron },
  });
}
