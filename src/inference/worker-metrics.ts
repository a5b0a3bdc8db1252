// Prometheus metrics of the inference worker (one registry per worker, so tests can run several).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createWorkerMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  // The process's own: CPU, resident memory, heap, event-loop lag, open handles (the worker
  // process, not only its requests).
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'tastegraph_worker_requests_total',
      help: 'Requests by endpoint and HTTP status',
      labelNames: ['endpoint', 'status'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'tastegraph_worker_request_seconds',
      help: 'Request latency by endpoint',
      labelNames: ['endpoint'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    batchRows: new Histogram({
      name: 'tastegraph_worker_batch_rows',
      help: 'Users per session.run',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    }),
    queueRows: new Gauge({ name: 'tastegraph_worker_queue_rows', help: 'Users waiting for a session.run', registers: [registry] }),
    modelInfo: new Gauge({
      name: 'tastegraph_worker_model_info',
      help: 'The base model version served as latest, in its labels (value 1)',
      labelNames: ['model', 'version'],
      registers: [registry],
    }),
    tenantModels: new Gauge({ name: 'tastegraph_worker_tenant_models_loaded', help: "Tenants' model versions loaded now", registers: [registry] }),
    tenantModelBytes: new Gauge({
      name: 'tastegraph_worker_tenant_model_bytes',
      help: "Estimated memory of the tenants' model versions loaded (WORKER_MODEL_CACHE_MB bounds it)",
      registers: [registry],
    }),
    tenantModelEvictions: new Counter({
      name: 'tastegraph_worker_tenant_model_evictions_total',
      help: "Tenants' model versions unloaded to stay within the memory budget",
      registers: [registry],
    }),
    modelLoadFailures: new Counter({
      name: 'tastegraph_worker_model_load_failures_total',
      help: 'Model versions refused on load (corrupt or not a preference model); what was loaded keeps serving',
      labelNames: ['model', 'version'],
      registers: [registry],
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
