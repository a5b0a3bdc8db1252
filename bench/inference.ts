// npm run bench:inference [-- --seconds 3 --runs 3]
// Candidates scored per second and p50/p99 latency through a worker process over HTTP (binary
// tensors), at 1, 8, 64 and 256 concurrent callers, each scoring 50 candidates for one user
// with 16 history items; batching on and off; and, in the same run, raw onnxruntime
// session.run on the same batch shapes (the ceiling).
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { DEFAULT_MODEL_STORE } from '../src/config.js';
import { createWorkerClient } from '../src/inference/worker-client.js';
import { appArgs } from '../test/helpers/build.js';
import { msPerRun, oneUser, tiledFeeds } from './session-run.js';

/** The shipped base model, as the worker names it. */
const BASE = { name: 'preference' };

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    'max-batch': { type: 'string', default: '64' },
    'queue-delay-ms': { type: 'string', default: '0' },
    'ort-threads': { type: 'string', default: '1' },
    store: { type: 'string', default: DEFAULT_MODEL_STORE },
  },
});
const SECONDS = Number(values.seconds);
const RUNS = Number(values.runs);
const CALLERS = [1, 8, 64, 256];
const HISTORY = 16;
const CANDIDATES = 50;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

function startWorker(port: number, maxBatch: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, appArgs('worker'), {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      WORKER_PORT: String(port),
      MODEL_STORE: values.store,
      MAX_BATCH_SIZE: String(maxBatch),
      MAX_QUEUE_DELAY_MS: values['queue-delay-ms'],
      ORT_INTRA_OP_THREADS: values['ort-threads'],
      MAX_QUEUE_ROWS: '4096',
      WORKER_TIMEOUT_MS: '60000',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => String(chunk).includes('inference worker at') && resolve(child));
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
}

interface Cell {
  rate: number;
  p50: number;
  p99: number;
}

/** Closed-loop load: each caller sends its next request when the previous one answers. */
async function load(url: string, callers: number, D: number): Promise<Cell> {
  const client = createWorkerClient({ urls: [url], retries: 0, connections: Math.min(callers, 256) });
  const requests = Array.from({ length: callers }, (_, i) => oneUser(D, HISTORY, CANDIDATES, i));
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    requests.map(async (batch) => {
      while (performance.now() < end) {
        const t = performance.now();
        await client.score(BASE, batch, Date.now() + 60_000);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await client.close();
  return { rate: (latencies.length * CANDIDATES) / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** The ceiling: candidates per second of session.run on the batch a full batcher would form (min(callers, max batch) users). */
async function raw(session: ort.InferenceSession, D: number, users: number) {
  return (users * CANDIDATES * 1000) / (await msPerRun(session, tiledFeeds(D, users, HISTORY, CANDIDATES), SECONDS));
}

async function main() {
  const maxBatch = Number(values['max-batch']);
  const threads = Number(values['ort-threads']);
  const session = await ort.InferenceSession.create(join(values.store, 'preference', '1', 'model.onnx'), threads > 0 ? { intraOpNumThreads: threads } : {});
  const D = Number((session.inputMetadata[0] as ort.InferenceSession.TensorValueMetadata).shape[2]);
  const cells: Record<number, { on: Cell[]; off: Cell[]; raw: number[] }> = Object.fromEntries(CALLERS.map((c) => [c, { on: [], off: [], raw: [] }]));
  for (let run = 0; run < RUNS; run++) {
    // Both workers stay up for the whole run, and each row's three measurements (batching on,
    // off, raw session.run) are taken back to back, alternating which goes first, so each
    // run's ratios compare figures taken seconds apart on this shared, noisy machine.
    const onPort = 18000 + run * 2;
    const workers = { on: await startWorker(onPort, maxBatch), off: await startWorker(onPort + 1, 1) };
    try {
      for (const callers of CALLERS) {
        const order = run % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
        for (const mode of order) cells[callers][mode].push(await load(`http://127.0.0.1:${mode === 'on' ? onPort : onPort + 1}`, callers, D));
        cells[callers].raw.push(await raw(session, D, Math.min(callers, maxBatch)));
      }
    } finally {
      workers.on.kill('SIGTERM');
      workers.off.kill('SIGTERM');
    }
    process.stderr.write(`run ${run + 1} of ${RUNS} done\n`);
  }
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(
    `\nInference benchmark: ${CANDIDATES} candidates and ${HISTORY} history items per caller, model dimension ${D}, ${SECONDS} s per cell, median of ${RUNS} runs`,
  );
  console.log(
    `machine: ${cpus().length} x ${cpus()[0].model}; worker in a separate Node process (CPU execution provider), max batch ${maxBatch}, max queue delay ${values['queue-delay-ms']} ms (0: the next event-loop turn), onnxruntime intra-op threads ${values['ort-threads'] === '0' ? 'default' : values['ort-threads']} in worker and ceiling alike`,
  );
  console.log('Rates and latencies are medians over runs; ratios are medians of the ratios within each run.\n');
  console.log(
    '| callers | batching on cand/s | p50 ms | p99 ms | batching off cand/s | p50 ms | p99 ms | on / off | raw session.run cand/s (batch) | on / raw | raw / off |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const perRun = <T>(callers: number, f: (on: number, off: number, raw: number) => T): T[] =>
    cells[callers].on.map((on, i) => f(on.rate, cells[callers].off[i].rate, cells[callers].raw[i]));
  for (const callers of CALLERS) {
    const { on, off, raw: ceilings } = cells[callers];
    const m = (xs: Cell[], k: keyof Cell) => median(xs.map((x) => x[k]));
    console.log(
      `| ${callers} | ${fmt(m(on, 'rate'))} | ${m(on, 'p50').toFixed(1)} | ${m(on, 'p99').toFixed(1)} | ${fmt(m(off, 'rate'))} | ${m(off, 'p50').toFixed(1)} | ${m(off, 'p99').toFixed(1)} | ` +
        `${median(perRun(callers, (a, b) => a / b)).toFixed(1)}x | ${fmt(median(ceilings))} (${Math.min(callers, maxBatch)}) | ` +
        `${median(perRun(callers, (a, _, c) => (100 * a) / c)).toFixed(0)}% | ${median(perRun(callers, (_, b, c) => c / b)).toFixed(1)}x |`,
    );
  }
  console.log('\nPer run (on / raw, on / off), to show the spread:');
  for (const callers of CALLERS) {
    const runs = perRun(callers, (a, b, c) => `${((100 * a) / c).toFixed(0)}% ${(a / b).toFixed(1)}x`);
    console.log(`- ${callers} callers: ${runs.join(', ')}`);
  }
  // Where batching can win on this hardware: a run's fixed cost against its per-user cost.
  const fixed = await msPerRun(session, tiledFeeds(D, 1, 1, 1), SECONDS);
  const alone = await msPerRun(session, tiledFeeds(D, 1, HISTORY, CANDIDATES), SECONDS);
  const inBatch = (await msPerRun(session, tiledFeeds(D, maxBatch, HISTORY, CANDIDATES), SECONDS)) / maxBatch;
  console.log(
    `\nsession.run cost: ${fixed.toFixed(3)} ms for 1 user with 1 history item and 1 candidate (the fixed cost of a run); ` +
      `${alone.toFixed(3)} ms for one request alone (${HISTORY} history, ${CANDIDATES} candidates); ${inBatch.toFixed(3)} ms per request inside a batch of ${maxBatch}. ` +
      `Batching saves at most the fixed part: ${(alone / inBatch).toFixed(1)}x on model time.`,
  );
  console.log('\nraw / off: the highest on / off any batcher could reach here, since batched serving cannot pass the raw session.run ceiling.');
  console.log(
    `\ncommand: npm run bench:inference -- --seconds ${SECONDS} --runs ${RUNS} --max-batch ${maxBatch} --queue-delay-ms ${values['queue-delay-ms']} --ort-threads ${values['ort-threads']}`,
  );
  await session.release();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
