// The API's scorer: inference workers over HTTP when WORKER_URLS names them, otherwise the
// worker's own registry and batcher inside this process (the embedded default), behind the
// same interface.
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createModelRegistry } from '../inference/model-registry.js';
import { createInProcessScorer, type Scorer } from '../inference/scorer.js';
import { createWorkerClient } from '../inference/worker-client.js';

export async function openScorer(config: Config, log: Logger): Promise<Scorer> {
  if (config.scoring.workerUrls.length > 0) {
    return createWorkerClient({ urls: config.scoring.workerUrls, model: 'preference', retries: config.scoring.retries });
  }
  const w = config.worker;
  const registry = await createModelRegistry({
    storeDir: w.modelStore,
    modelName: 'preference',
    provider: w.provider,
    pollMs: w.pollMs,
    log,
    batching: { maxBatchSize: w.maxBatchSize, maxQueueDelayMs: w.maxQueueDelayMs, maxQueueSize: w.maxQueueRows },
  });
  return createInProcessScorer(registry);
}
