// A real inference worker on an ephemeral port over a model store of its own, and the small
// exported model (trainer/fixture.py: dimension 8) the tests put in it. The fixture's history
// attends to itself alone, its tokens keys and values only (`--token-attention cross`), as in
// the networks the trainer ships and the nightly trains: the fixture's default (the tokens in
// the history's self-attention) takes inputs, a history of length 0, that those refuse.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { createModelRegistry, type ModelRegistry } from '../../src/inference/model-registry.js';
import { createModelStore, type ModelStore } from '../../src/inference/model-store.js';
import { createTenantModels } from '../../src/inference/tenant-models.js';
import { createInProcessScorer } from '../../src/inference/scorer.js';
import { createWorkerServer } from '../../src/inference/protocol-server.js';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/inference/worker-metrics.js';
import { REPOSITORY_ROOT } from '../../src/trainer/python.js';
import type { ScoreBatch } from '../../src/inference/tensors.js';
import { encodeInferRequest, parseInferResponse } from '../../src/inference/protocol.js';

let fixtureDir: string | undefined;

/** Exports the fixture model once per test file; returns the folder with model.onnx and fixture.json. */
export function fixtureModel(): string {
  if (!fixtureDir) {
    fixtureDir = mkdtempSync(join(tmpdir(), 'tg-fixture-'));
    execFileSync(loadConfig().trainerPython, ['-m', 'trainer.fixture', '--out', fixtureDir, '--token-attention', 'cross'], {
      cwd: REPOSITORY_ROOT,
      stdio: 'pipe',
    });
  }
  return fixtureDir;
}

/** The fixture's inputs and expected logits (trainer/fixture.py writes them beside the model). */
export interface Fixture {
  shape: { B: number; H: number; T: number; D: number };
  history: number[];
  history_label: number[];
  history_mask: number[];
  candidates: number[];
  logits: number[];
}

export function readFixture(): Fixture {
  return JSON.parse(readFileSync(join(fixtureModel(), 'fixture.json'), 'utf8'));
}

/** The whole fixture as one batch. */
export function fixtureBatch(fx = readFixture()): ScoreBatch {
  return {
    ...fx.shape,
    history: Float32Array.from(fx.history),
    historyLabel: BigInt64Array.from(fx.history_label.map(BigInt)),
    historyMask: Uint8Array.from(fx.history_mask),
    candidates: Float32Array.from(fx.candidates),
  };
}

/** Row b of the fixture as a one-user batch. */
export function fixtureRow(b: number, fx = readFixture()): ScoreBatch {
  const { H, T, D } = fx.shape;
  const f = fixtureBatch(fx);
  return {
    B: 1,
    H,
    T,
    D,
    history: f.history.slice(b * H * D, (b + 1) * H * D),
    historyLabel: f.historyLabel.slice(b * H, (b + 1) * H),
    historyMask: f.historyMask.slice(b * H, (b + 1) * H),
    candidates: f.candidates.slice(b * T * D, (b + 1) * T * D),
  };
}

/** Puts a model into a base store as preference/<version> (with the fixture's checkpoint when it is the fixture). */
export function addVersion(store: string, version: number, file = join(fixtureModel(), 'model.onnx')): void {
  const dir = join(store, 'preference', String(version));
  mkdirSync(dir, { recursive: true });
  copyFileSync(file, join(dir, 'model.onnx'));
  if (file === join(fixtureModel(), 'model.onnx')) copyFileSync(join(fixtureModel(), 'ckpt.pt'), join(dir, 'ckpt.pt'));
}

export interface TestWorker {
  url: string;
  store: string;
  /** Where the tenants' models are (tenant-<id>/<version>/model.onnx). */
  tenantStore: string;
  registry: ModelRegistry;
  models: ModelStore;
  metrics: WorkerMetrics;
  /** What the worker process does on SIGTERM: answer what it took, refuse the rest, free the models. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestWorker(
  options: {
    maxBatchSize?: number;
    maxQueueDelayMs?: number;
    maxQueueRows?: number;
    versions?: number[];
    versionsKept?: number;
    tenantStore?: string;
    cacheBytes?: number;
  } = {},
): Promise<TestWorker> {
  const store = mkdtempSync(join(tmpdir(), 'tg-store-'));
  const tenantStore = options.tenantStore ?? mkdtempSync(join(tmpdir(), 'tg-tenant-store-'));
  for (const v of options.versions ?? [1]) addVersion(store, v);
  const metrics = createWorkerMetrics();
  const log = pino({ level: 'silent' });
  const registry = await createModelRegistry({
    storeDir: store,
    modelName: 'preference',
    provider: 'cpu',
    pollMs: 0,
    versionsKept: options.versionsKept ?? 2,
    log,
    batching: {
      maxBatchSize: options.maxBatchSize ?? 64,
      maxQueueDelayMs: options.maxQueueDelayMs ?? 2,
      maxQueueSize: options.maxQueueRows ?? 1024,
      onRun: (rows) => metrics.batchRows.observe(rows),
    },
  });
  const tenants = createTenantModels({
    storeDir: tenantStore,
    provider: 'cpu',
    budgetBytes: options.cacheBytes ?? 1 << 30,
    log,
    batching: { maxBatchSize: options.maxBatchSize ?? 64, maxQueueDelayMs: options.maxQueueDelayMs ?? 2, maxQueueSize: options.maxQueueRows ?? 1024 },
    onEvict: () => metrics.tenantModelEvictions.inc(),
    onRefused: (model, version) => metrics.modelLoadFailures.inc({ model, version }),
  });
  const models = createModelStore(registry, tenants);
  const server = createWorkerServer({ store: models, metrics, log, maxBodyBytes: 1 << 20, defaultTimeoutMs: 2000 });
  const url = await server.listenOn(0, '127.0.0.1');
  return {
    url,
    store,
    tenantStore,
    registry,
    models,
    metrics,
    async drain() {
      await server.drain(5000);
      await models.close();
    },
    async stop() {
      server.close();
      server.closeAllConnections();
      await models.close();
    },
  };
}

/** How many session runs the worker made, from its batch-size histogram. */
export async function sessionRuns(worker: TestWorker): Promise<number> {
  const metric = await worker.metrics.batchRows.get();
  return metric.values.find((v) => v.metricName === 'tastegraph_worker_batch_rows_count')?.value ?? 0;
}

/** One binary infer request to a model (a version, or the one served): 200 with the output, or the status and error. */
export async function inferOver(url: string, model: string, version: string | undefined, batch: ScoreBatch, timeoutUs?: number) {
  const request = encodeInferRequest(batch, { timeoutUs });
  const response = await fetch(`${url}/v2/models/${model}${version ? `/versions/${version}` : ''}/infer`, {
    method: 'POST',
    headers: { 'inference-header-content-length': String(request.headerLength), 'content-type': 'application/octet-stream' },
    body: new Uint8Array(request.body),
  });
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200) return { status: response.status, error: JSON.parse(body.toString()).error as string };
  const length = response.headers.get('inference-header-content-length');
  return { status: 200, ...parseInferResponse(body, length ? Number(length) : undefined) };
}

/**
 * Scoring in the test process, as the embedded default does it: the base model store (read
 * only) and a tenants' store; real ONNX sessions, batching across callers.
 */
export async function inProcessScorer(baseStore: string, tenantStore = mkdtempSync(join(tmpdir(), 'tg-tenants-'))) {
  const log = pino({ level: 'silent' });
  const batching = { maxBatchSize: 256, maxQueueDelayMs: 1, maxQueueSize: 100_000 };
  const base = await createModelRegistry({ storeDir: baseStore, modelName: 'preference', provider: 'cpu', pollMs: 0, versionsKept: 2, log, batching });
  const scorer = createInProcessScorer(
    createModelStore(base, createTenantModels({ storeDir: tenantStore, provider: 'cpu', budgetBytes: 1 << 30, log, batching })),
  );
  return { scorer, tenantStore };
}
