// Composition root of the inference worker: configuration → model store → batching → HTTP.
import { loadConfig, ConfigError } from '../config.js';
import { createLogger } from '../logger.js';
import { openModelStore } from './wiring/model-registry.js';
import { createWorkerServer } from '../inference/protocol-server.js';
import { createWorkerMetrics } from '../inference/worker-metrics.js';
import { messageOf } from '../errors.js';

async function main() {
  const config = loadConfig();
  const w = config.worker;
  const log = createLogger(config.logLevel, 'tastegraph-worker');
  const metrics = createWorkerMetrics({ defaultMetrics: true });
  const store = await openModelStore(w, log, {
    onRun: (rows) => metrics.batchRows.observe(rows),
    onEvict: () => metrics.tenantModelEvictions.inc(),
    onRefused: (model, version) => metrics.modelLoadFailures.inc({ model, version }),
  });
  const server = createWorkerServer({
    store,
    metrics,
    log,
    maxBodyBytes: w.maxBodyBytes,
    defaultTimeoutMs: w.defaultTimeoutMs,
  });
  const url = await server.listenOn(w.port, w.host);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    // Answer what was taken (new requests get 503 and go to another worker), then free the models.
    await server.drain(10_000);
    await store.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  // Announced only now, with shutdown wired: a signal sent on this line must find it.
  process.stdout.write(
    `tastegraph inference worker at ${url}/v2 serving preference versions [${store.base.versions().join(', ')}] from ${w.modelStore}, ` +
      `tenants' models from ${w.tenantModelStore}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error instanceof ConfigError ? 'configuration error: ' : 'worker failed to start: '}${messageOf(error)}\n`);
  process.exit(1);
});
