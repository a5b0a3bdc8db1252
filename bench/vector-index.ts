// npm run bench:vector-index [-- --rounds 21 --probe-seconds 5]
// The feed's "items nearest the user's likes" scan (src/ranking/vector-index.ts): milliseconds
// per nearest() call, k = 250 of a 500-candidate pool, 8 liked items as queries, 20 excluded,
// at tenant sizes from 10,000 items of dimension 32 to 500,000 of dimension 512 (CLIP-sized),
// the scan in slices as shipped and in one piece as before, alternating call by call.
// The scan runs on the API's event loop, so the second table is what another request on that
// loop waits: while scans run back to back, a probe asks for a turn of the loop every
// millisecond and records how late it comes.
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { loopLatenessDuring } from './loop-lateness.js';
import { createVectorIndex, type VectorIndex } from '../src/ranking/vector-index.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '21' },
    'probe-seconds': { type: 'string', default: '5' },
  },
});
const ROUNDS = Number(values.rounds);
const PROBE_SECONDS = Number(values['probe-seconds']);
// The platform's default slice (FEED_SCAN_SLICE_FLOATS), about a millisecond of scan here.
const DEFAULT_SLICE_FLOATS = loadConfig({}).feed.scanSliceFloats;
const SIZES: [number, number][] = [
  [10_000, 32],
  [100_000, 32],
  [10_000, 512],
  [100_000, 512],
  [500_000, 512],
];
const SCANS: { name: string; sliceFloats: number }[] = [
  { name: 'in slices', sliceFloats: DEFAULT_SLICE_FLOATS },
  { name: 'one piece', sliceFloats: Infinity },
];

/** A fixed pseudo-random sequence in [-1, 1), so every run scans the same vectors. */
function sequence(seed: number) {
  let s = seed;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/** The same items in one index per scan kind. */
function build(n: number, dim: number): VectorIndex[] {
  const indexes = SCANS.map((s) => createVectorIndex(dim, { sliceFloats: s.sliceFloats }));
  const random = sequence(1);
  const v = new Float32Array(dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) v[d] = random();
    for (const index of indexes) index.upsert(i + 1, v);
  }
  return indexes;
}

/** Scans back to back for `seconds`; how late each turn of the loop came meanwhile (ms). */
async function probe(scan: () => Promise<unknown>, seconds: number): Promise<{ lateness: number[]; scans: number }> {
  let scans = 0;
  const end = performance.now() + seconds * 1000;
  const { lateness } = await loopLatenessDuring(async () => {
    while (performance.now() < end) {
      await scan();
      scans++;
    }
  });
  return { lateness, scans };
}

console.log(
  `\nVector index nearest(): median of ${ROUNDS} calls after 3 warm-up calls, each kind of scan in turn; 8 queries, k = 250, 20 ids excluded; slices of ${DEFAULT_SLICE_FLOATS.toLocaleString('en-US')} numbers; ${cpus().length} x ${cpus()[0].model}\n`,
);
console.log('| items | dimension | index MB | slices | in slices: median ms | p90 ms | one piece: median ms | p90 ms | slices / one piece |');
console.log('|---|---|---|---|---|---|---|---|---|');
const queriesFor = (dim: number) => {
  const random = sequence(2);
  return Array.from({ length: 8 }, () => Float32Array.from({ length: dim }, random));
};
const exclude = new Set(Array.from({ length: 20 }, (_, i) => i * 7 + 1));
for (const [n, dim] of SIZES) {
  const indexes = build(n, dim);
  const queries = queriesFor(dim);
  for (const index of indexes) for (let i = 0; i < 3; i++) await index.nearest(queries, 250, exclude);
  const times: number[][] = indexes.map(() => []);
  for (let i = 0; i < ROUNDS; i++) {
    for (const [at, index] of indexes.entries()) {
      const t = performance.now();
      await index.nearest(queries, 250, exclude);
      times[at].push(performance.now() - t);
    }
  }
  const [sliced, whole] = times.map((t) => t.sort((a, b) => a - b));
  const slices = Math.ceil(n / Math.max(1, Math.floor(DEFAULT_SLICE_FLOATS / dim)));
  console.log(
    `| ${n.toLocaleString('en-US')} | ${dim} | ${Math.round((n * dim * 4) / 2 ** 20)} | ${slices} | ${percentile(sliced, 0.5).toFixed(2)} | ${percentile(sliced, 0.9).toFixed(2)} | ${percentile(whole, 0.5).toFixed(2)} | ${percentile(whole, 0.9).toFixed(2)} | ${(percentile(sliced, 0.5) / percentile(whole, 0.5)).toFixed(2)} |`,
  );
}

console.log(`\nWhat another request on the loop waits while scans run back to back for ${PROBE_SECONDS} s (a timer every 1 ms; how late it fires, ms)\n`);
console.log('| items | dimension | scan | scans | turns | late p50 | p99 | max |');
console.log('|---|---|---|---|---|---|---|---|');
for (const [n, dim] of SIZES.filter(([n, dim]) => n * dim >= 100_000 * 512)) {
  const indexes = build(n, dim);
  const queries = queriesFor(dim);
  for (const [at, index] of indexes.entries()) {
    await index.nearest(queries, 250, exclude);
    const { lateness, scans } = await probe(() => index.nearest(queries, 250, exclude), PROBE_SECONDS);
    console.log(
      `| ${n.toLocaleString('en-US')} | ${dim} | ${SCANS[at].name} | ${scans} | ${lateness.length} | ${percentile(lateness, 0.5).toFixed(2)} | ${percentile(lateness, 0.99).toFixed(2)} | ${lateness.at(-1)?.toFixed(2)} |`,
    );
  }
}
console.log(`\ncommand: npm run bench:vector-index -- --rounds ${ROUNDS} --probe-seconds ${PROBE_SECONDS}`);
