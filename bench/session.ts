// npm run bench:session [-- --seconds 1 --rounds 3 --threads 1]
// Where the preference model's time goes in onnxruntime-node, without HTTP or batching code:
// milliseconds per user by batch size (how much a batcher can save: only a run's fixed cost),
// and onnxruntime's own per-operator profile at batch 1 and at batch 64.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { DEFAULT_MODEL_STORE } from '../src/config.js';
import { msPerRun, tiledFeeds } from './session-run.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
    model: { type: 'string', default: join(DEFAULT_MODEL_STORE, 'preference', '1', 'model.onnx') },
  },
});
const HISTORY = 16;
const CANDIDATES = 50;
const SIZES = [1, 2, 4, 8, 16, 32, 64, 128];
const modelPath = resolve(values.model);
const threads = Number(values.threads);
const options = threads > 0 ? { intraOpNumThreads: threads } : {};

/** onnxruntime's profiler over `runs` runs: kernel milliseconds per run by operator type. */
async function profile(D: number, users: number, runs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tg-ort-profile-'));
  try {
    const session = await ort.InferenceSession.create(modelPath, { ...options, enableProfiling: true, profileFilePrefix: join(dir, 'profile') });
    const input = tiledFeeds(D, users, HISTORY, CANDIDATES);
    for (let i = 0; i < runs; i++) await session.run(input);
    session.endProfiling();
    await session.release();
    const events = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8')) as {
      cat: string;
      name: string;
      dur: number;
      args?: { op_name?: string };
    }[];
    const byOp = new Map<string, number>();
    let nodes = 0;
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      byOp.set(e.args!.op_name!, (byOp.get(e.args!.op_name!) ?? 0) + e.dur / runs / 1000);
      nodes++;
    }
    return { nodes: nodes / runs, byOp: [...byOp].sort((a, b) => b[1] - a[1]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const session = await ort.InferenceSession.create(modelPath, options);
  const D = Number((session.inputMetadata[0] as ort.InferenceSession.TensorValueMetadata).shape[2]);
  const seconds = Number(values.seconds);
  const perUser = new Map<number, number[]>(SIZES.map((n) => [n, []]));
  const fixed: number[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    fixed.push(await msPerRun(session, tiledFeeds(D, 1, 1, 1), seconds));
    for (const n of SIZES) perUser.get(n)!.push((await msPerRun(session, tiledFeeds(D, n, HISTORY, CANDIDATES), seconds)) / n);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const best = Math.min(...SIZES.map((n) => median(perUser.get(n)!)));
  console.log(
    `\nsession.run of ${modelPath} (dimension ${D}), ${HISTORY} history items and ${CANDIDATES} candidates per user, onnxruntime intra-op threads ${threads || 'default'}, ${cpus().length} x ${cpus()[0].model}; medians of ${values.rounds} rounds of ${seconds} s\n`,
  );
  console.log('| users per run | ms per run | ms per user | candidates/s | batch-1 time per user / this |');
  console.log('|---|---|---|---|---|');
  for (const n of SIZES) {
    const m = median(perUser.get(n)!);
    console.log(
      `| ${n} | ${(m * n).toFixed(3)} | ${m.toFixed(3)} | ${Math.round((CANDIDATES * 1000) / m).toLocaleString('en-US')} | ${(median(perUser.get(1)!) / m).toFixed(2)}x |`,
    );
  }
  console.log(
    `\nA run with 1 user, 1 history item and 1 candidate (the fixed cost of a run): ${median(fixed).toFixed(3)} ms. ` +
      `The most batching can save on model time here: ${(median(perUser.get(1)!) / best).toFixed(2)}x.`,
  );
  await session.release();
  for (const users of [1, 64]) {
    const { nodes, byOp } = await profile(D, users, 100);
    const total = byOp.reduce((a, [, ms]) => a + ms, 0);
    console.log(
      `\nProfile at ${users} user(s) per run: ${nodes} nodes, ${total.toFixed(3)} ms of kernel time per run (the profiler adds its own cost per node)`,
    );
    console.log('| operator | ms per run | share |');
    console.log('|---|---|---|');
    for (const [op, ms] of byOp.slice(0, 10)) console.log(`| ${op} | ${ms.toFixed(3)} | ${((100 * ms) / total).toFixed(0)}% |`);
  }
  console.log(`\ncommand: npm run bench:session -- --seconds ${values.seconds} --rounds ${values.rounds} --threads ${values.threads}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
