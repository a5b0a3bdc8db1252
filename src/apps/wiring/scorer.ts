// The API's scorer: inference workers over HTTP when WORKER_URLS names them, otherwise the
// worker's own registry and batcher inside this process (the embedded default), behind the
// same interface.
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { EventBus } from '../../events/event-bus.js';
import { openModelStore, type ModelStoreHooks } from './model-registry.js';
import { createInProcessScorer, type Scorer } from '../../inference/scorer.js';
import { createWorkerClient } from '../../inference/worker-client.js';

export async function openScorer(config: Config, log: Logger, hooks: ModelStoreHooks = {}): Promise<Scorer> {
  if (config.scoring.workerUrls.length > 0) {
    return createWorkerClient({ urls: config.scoring.workerUrls, retries: config.scoring.retries });
  }
  return createInProcessScorer(await openModelStore(config.worker, log, hooks));
}

/**
 * Announces a new version of the shipped base model (loaded in process or by the workers) so
 * that live feeds of tenants it serves re-rank. Tenants' own versions are announced by their
 * promotion, from the registry.
 */
export function watchModelVersions(scorer: Scorer, bus: EventBus, log: Logger, onError: (error: unknown) => void, everyMs = 5000): () => void {
  let known: string | undefined;
  const check = async () => {
    const version = (await scorer.modelInfo())?.version;
    if (version && known && version !== known) {
      log.info({ version, previous: known }, 'new model version serving; live feeds re-rank');
      await bus.publish({ type: 'model-promoted', version });
    }
    known = version ?? known;
  };
  const checkReporting = () =>
    check().catch((error) => {
      onError(error);
      log.error({ err: error, component: 'model-watch' }, 'checking the serving model version failed; checked again in %d ms', everyMs);
    });
  void checkReporting();
  const timer = setInterval(() => void checkReporting(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
