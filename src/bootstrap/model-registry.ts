// The model registry as configured (WORKER_* settings): one place for the worker process and
// for the API's in-process scorer, so both batch and load models the same way.
import type { WorkerConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { createModelRegistry, type ModelRegistry } from '../inference/model-registry.js';

export function openModelRegistry(w: WorkerConfig, log: Logger, onRun?: (rows: number) => void): Promise<ModelRegistry> {
  return createModelRegistry({
    storeDir: w.modelStore,
    modelName: 'preference',
    provider: w.provider,
    intraOpThreads: w.intraOpThreads,
    pollMs: w.pollMs,
    versionsKept: w.versionsKept,
    log,
    batching: { maxBatchSize: w.maxBatchSize, maxQueueDelayMs: w.maxQueueDelayMs, maxQueueSize: w.maxQueueRows, onRun },
  });
}
