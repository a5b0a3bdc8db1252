// npm run bench:model-memory [-- --models 24 --dims 32,512]
// What one loaded tenant model version costs a worker: for each dimension, a model is trained
// for one short epoch (its file is what a tenant's would be), copied into a tenant store as N
// tenants' versions, and loaded one after another through the worker's tenant cache, each
// scoring one feed-sized request; RSS is
// read after each load (after a GC). Prints the file size, what the first load costs (it starts
// onnxruntime), the mean RSS of each further version, and the cache's estimate (estimateBytes)
// beside it, which WORKER_MODEL_CACHE_MB is counted in; then what onnxruntime's arena grows to
// after runs of 1, 8 and 64 users' 500 candidates, against the estimate's allowance for it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config.js';
import { tenantModelName } from '../src/inference/model-names.js';
import { createTenantModels, estimateBytes } from '../src/inference/tenant-models.js';
import { REPOSITORY_ROOT } from '../src/trainer/python.js';
import { stackBatches, userBatch } from '../src/inference/tensors.js';

const { values } = parseArgs({
  options: { models: { type: 'string', default: '24' }, dims: { type: 'string', default: '32,512' }, json: { type: 'boolean', default: false } },
});
const MODELS = Number(values.models);
const gc = (globalThis as { gc?: () => void }).gc;
const rssMb = () => {
  gc?.();
  return process.memoryUsage().rss / 1024 / 1024;
};

async function measure(dim: number) {
  const work = mkdtempSync(join(tmpdir(), 'tg-model-memory-'));
  try {
    const python = loadConfig().trainerPython;
    execFileSync('npx', ['tsx', 'src/apps/synth.ts', '--out', join(work, 'world'), '--users', '200', '--items', '500', '--dim', String(dim)], {
      cwd: REPOSITORY_ROOT,
      stdio: 'ignore',
    });
    execFileSync(
      python,
      ['-m', 'trainer.train', '--data', join(work, 'world'), '--out', join(work, 'model'), '--epochs', '1', '--max-episodes', '200', '--quiet'],
      { cwd: REPOSITORY_ROOT, stdio: 'ignore' },
    );
    const file = join(work, 'model', 'model.onnx');
    const store = join(work, 'store');
    const tenants = Array.from({ length: MODELS }, () => randomUUID());
    for (const t of tenants) {
      mkdirSync(join(store, tenantModelName(t), '1'), { recursive: true });
      copyFileSync(file, join(store, tenantModelName(t), '1', 'model.onnx'));
    }
    const cache = createTenantModels({
      storeDir: store,
      provider: 'cpu',
      intraOpThreads: 1,
      budgetBytes: 1 << 40,
      log: pino({ level: 'silent' }),
      batching: { maxBatchSize: 64, maxQueueDelayMs: 0, maxQueueSize: 1024 },
    });
    const before = rssMb();
    const steps: number[] = [];
    let last = before;
    // Each version scores one feed-sized request (16 history slots, 500 candidates) after it
    // loads: onnxruntime's arena grows on the first run, not at load.
    const batch = userBatch(
      dim,
      Array.from({ length: 16 }, (_, i) => ({ vector: new Float32Array(dim).fill(i / 16), like: i % 2 === 0 })),
      Array.from({ length: 500 }, (_, i) => new Float32Array(dim).fill(i / 500)),
    );
    for (const t of tenants) {
      const model = await cache.acquire(tenantModelName(t), '1');
      await model.batcher.submit(batch);
      await new Promise((r) => setTimeout(r, 200));
      const now = rssMb();
      steps.push(now - last);
      last = now;
    }
    await cache.close();
    // The arena: one fresh session per batch shape, RSS before and after three runs.
    const arena = [];
    for (const users of [1, 8, 64]) {
      const one = createTenantModels({
        storeDir: store,
        provider: 'cpu',
        intraOpThreads: 1,
        budgetBytes: 1 << 40,
        log: pino({ level: 'silent' }),
        batching: { maxBatchSize: 64, maxQueueDelayMs: 0, maxQueueSize: 1 << 20 },
      });
      const model = await one.acquire(tenantModelName(tenants[0]), '1');
      const startMb = rssMb();
      const wide = stackBatches(Array.from({ length: users }, () => batch));
      for (let i = 0; i < 3; i++) await model.batcher.submit(wide);
      const grewMb = rssMb() - startMb;
      arena.push({
        users,
        grewMb,
        perCandidate: (grewMb * 1024 * 1024) / (users * 500),
        estimateMb: (estimateBytes(0, dim, users * 500) - estimateBytes(0)) / 1024 / 1024,
      });
      await one.close();
    }
    const size = statSync(file).size;
    // The first load also starts onnxruntime in this process: counted apart.
    return {
      dim,
      fileMb: size / 1024 / 1024,
      firstMb: steps[0],
      perModelMb: (last - before - steps[0]) / (MODELS - 1),
      estimateMb: estimateBytes(size) / 1024 / 1024,
      arena,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

type Row = Awaited<ReturnType<typeof measure>>;

async function main() {
  if (!gc) console.error('(run with node --expose-gc for steadier figures: npm run bench:model-memory does)');
  // One dimension per process: memory freed by one measurement would be reused by the next.
  if (values.json) return void console.log(JSON.stringify(await measure(Number(values.dims))));
  const rows: Row[] = values.dims.split(',').map((dim) => {
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'bench/model-memory.ts', '--json', '--dims', dim, '--models', String(MODELS)],
      { cwd: REPOSITORY_ROOT, encoding: 'utf8' },
    );
    return JSON.parse(out.trim().split('\n').at(-1)!) as Row;
  });
  console.log(`\nMemory per loaded tenant model version (${MODELS} versions loaded one after another, RSS after each, after a GC)\n`);
  console.log('dimension   model.onnx   first load (starts onnxruntime)   each further version (mean)   estimate (estimateBytes)');
  for (const r of rows) {
    console.log(
      `${String(r.dim).padStart(9)}   ${r.fileMb.toFixed(2).padStart(7)} MB   ${r.firstMb.toFixed(1).padStart(28)} MB   ${r.perModelMb.toFixed(1).padStart(24)} MB   ${r.estimateMb.toFixed(1).padStart(20)} MB`,
    );
  }
  console.log("\nonnxruntime's arena after runs of N users x 500 candidates (a fresh session each; it never shrinks)\n");
  console.log('dimension   users   arena grew   per candidate   estimate (estimateBytes)');
  for (const r of rows) {
    for (const a of r.arena) {
      console.log(
        `${String(r.dim).padStart(9)}   ${String(a.users).padStart(5)}   ${a.grewMb.toFixed(1).padStart(7)} MB   ${(a.perCandidate / 1024).toFixed(1).padStart(10)} kB   ${a.estimateMb.toFixed(1).padStart(20)} MB`,
      );
    }
  }
  console.log(`\ncommand: npm run bench:model-memory -- ${process.argv.slice(2).join(' ')}`.trimEnd());
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
