// The model store as configured (WORKER_* settings): one place for the worker process and for
// the API's in-process scorer, so both batch and load models the same way.
import type { WorkerConfig } from '../../config.js';
import type { Logger } from '../../logger.js';
import { createModelRegistry, type ModelRegistry } from '../../inference/model-registry.js';
import { BASE_MODEL } from '../../inference/model-names.js';
import { createModelStore, type ModelStore } from '../../inference/model-store.js';
import { createTenantModels } from '../../inference/tenant-models.js';

export interface ModelStoreHooks {
  /** Users per session.run, for a histogram. */
  onRun?: (rows: number) => void;
  onEvict?: (name: string, version: string) => void;
  onRefused?: (name: string, version: string, error: Error) => void;
}

export function openModelRegistry(w: WorkerConfig, log: Logger, onRun?: (rows: number) => void): Promise<ModelRegistry> {
  return createModelRegistry({
    storeDir: w.modelStore,
    modelName: BASE_MODEL,
    provider: w.provider,
    intraOpThreads: w.intraOpThreads,
    pollMs: w.pollMs,
    versionsKept: w.versionsKept,
    log,
    batching: { maxBatchSize: w.maxBatchSize, maxQueueDelayMs: w.maxQueueDelayMs, maxQueueSize: w.maxQueueRows, onRun },
  });
}

export async function openModelStore(w: WorkerConfig, log: Logger, hooks: ModelStoreHooks = {}): Promise<ModelStore> {
  const base = await openModelRegistry(w, log, hooks.onRun);
  const tenants = createTenantModels({
    storeDir: w.tenantModelStore,
    provider: w.provider,
    intraOpThreads: w.intraOpThreads,
    budgetBytes: w.modelCacheBytes,
    log,
    batching: { maxBatchSize: w.maxBatchSize, maxQueueDelayMs: w.maxQueueDelayMs, maxQueueSize: w.maxQueueRows, onRun: hooks.onRun },
    onEvict: hooks.onEvict,
    onRefused: hooks.onRefused,
  });
  return createModelStore(base, tenants);
}
