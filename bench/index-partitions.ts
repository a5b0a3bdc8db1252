// npm run bench:index-partitions [-- --sizes 100000x512,500000x512 --shares 2,5,10,20 --queries 40]
// The partitioned vector index (src/ranking/vector-index.ts, an inverted file) against the exact
// scan on the same items: how long partitioning takes and how late the event loop's turns come
// meanwhile, the memory, a feed's nearest() (k = 250 of a 500-candidate pool, 8 liked items,
// 20 excluded) timed side by side with the exact scan, query by query, and what it finds: the
// share of the exact 250 it returns (recall) and the mean cosine of what it returns over the
// exact 250's (1 = as near as the exact answer). Every index here is partitioned, even where the
// index's check on its sample (MIN_SAMPLE_RECALL) would decline and stay exact; the table says
// which it would.
// Two kinds of catalogue:
// - clustered: CLIP-like vectors. Points near one of `--styles` centres in 32 latent dimensions
//   (`--spread` 0.8 by default, as the synth worlds), lifted into the dimension by a fixed random map plus
//   isotropic noise (0.3 of the latent part, as src/synth/taste-world.ts); a user's 8 likes are
//   the 8 items of a 4,000-item sample nearest a taste drawn near one style;
// - uniform: vectors uniform in the cube, likes at random: no structure for partitions to
//   follow, the worst case.
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { loopLatenessDuring } from './loop-lateness.js';
import { multiply } from '../src/ranking/similarity-session.js';
import { createVectorIndex, MIN_SAMPLE_RECALL, type VectorIndex } from '../src/ranking/vector-index.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000x512,500000x512' },
    shares: { type: 'string', default: '2,5,10,20' },
    queries: { type: 'string', default: '40' },
    styles: { type: 'string', default: '200' },
    spread: { type: 'string', default: '0.8' },
    worlds: { type: 'string', default: 'clustered,uniform' },
  },
});
const SIZES = values.sizes.split(',').map((s) => s.split('x').map(Number) as [number, number]);
const SHARES = values.shares.split(',').map((s) => Number(s) / 100);
const QUERIES = Number(values.queries);
const STYLES = Number(values.styles);
const SPREAD = Number(values.spread);
const WORLDS = values.worlds.split(',');
const SLICE_FLOATS = loadConfig({}).feed.scanSliceFloats;
const LATENT = 32;
const K = 250;

/** A fixed pseudo-random sequence in [-1, 1), so every run builds the same vectors. */
function sequence(seed: number) {
  let s = seed;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}
/** About normal (Irwin-Hall of 4). */
const normal = (r: () => number) => (r() + r() + r() + r()) * Math.sqrt(3 / 4);

function unitRandom(r: () => number, n: number): Float32Array {
  const v = Float32Array.from({ length: n }, () => normal(r));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

interface Catalogue {
  /** Items' vectors, row-major, ids 1..n. */
  vectors: Float32Array;
  /** Each query: 8 liked item ids. */
  likes: number[][];
}

async function catalogue(world: string, n: number, dim: number): Promise<Catalogue> {
  const r = sequence(11);
  if (world === 'uniform') {
    const vectors = Float32Array.from({ length: n * dim }, r);
    const likes = Array.from({ length: QUERIES }, () => Array.from({ length: 8 }, () => 1 + Math.floor(((r() + 1) / 2) * n)));
    return { vectors, likes };
  }
  const centres = Array.from({ length: STYLES }, () => unitRandom(r, LATENT));
  const latent = new Float32Array(n * LATENT);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(((r() + 1) / 2) * STYLES)];
    const noise = unitRandom(r, LATENT);
    const p = c.map((x, d) => x + SPREAD * noise[d]);
    const norm = Math.hypot(...p);
    latent.set(
      p.map((x) => x / norm),
      i * LATENT,
    );
  }
  // The lift: latent rows times a random LATENT x dim map (onnxruntime), plus noise.
  const map = Float32Array.from({ length: LATENT * dim }, () => normal(r) / Math.sqrt(dim));
  const vectors = new Float32Array(n * dim);
  for (let first = 0; first < n; first += 8192) {
    const count = Math.min(8192, n - first);
    vectors.set(await multiply(latent.subarray(first * LATENT, (first + count) * LATENT), count, map, dim), first * dim);
  }
  for (let i = 0; i < n * dim; i++) vectors[i] += (0.3 * normal(r)) / Math.sqrt(dim);
  // Likes: the 8 items of a 4,000-item sample nearest a taste near one style (in latent space).
  const likes = Array.from({ length: QUERIES }, () => {
    const c = centres[Math.floor(((r() + 1) / 2) * STYLES)];
    const noise = unitRandom(r, LATENT);
    const taste = c.map((x, d) => x + 0.5 * noise[d]);
    const sample = Array.from({ length: 4000 }, () => Math.floor(((r() + 1) / 2) * n));
    const score = (i: number) => taste.reduce((s, x, d) => s + x * latent[i * LATENT + d], 0);
    return sample
      .map((i) => ({ i, s: score(i) }))
      .sort((a, b) => b.s - a.s)
      .slice(0, 8)
      .map((e) => e.i + 1);
  });
  return { vectors, likes };
}

function fill(index: VectorIndex, c: Catalogue, dim: number): VectorIndex {
  const n = c.vectors.length / dim;
  for (let i = 0; i < n; i++) index.upsert(i + 1, c.vectors.subarray(i * dim, (i + 1) * dim));
  return index;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

/** Mean cosine of `ids` to the mean of the likes. */
function meanCosine(index: VectorIndex, likes: number[], ids: number[], dim: number): number {
  const q = new Float64Array(dim);
  for (const id of likes) index.vector(id)!.forEach((x, d) => (q[d] += x));
  const qn = Math.hypot(...q);
  let total = 0;
  for (const id of ids) {
    const v = index.vector(id)!;
    total += v.reduce((s, x, d) => s + x * q[d], 0) / (qn * Math.hypot(...v));
  }
  return total / ids.length;
}

console.log(
  `\nPartitioned vector index against the exact scan: ${QUERIES} queries (8 likes, k = ${K}, 20 excluded), each timed once after a warm-up pass, both indexes query by query; slices of ${SLICE_FLOATS.toLocaleString('en-US')} numbers; ${cpus().length} x ${cpus()[0].model}\n`,
);
console.log(
  '| catalogue | items x dimension | probed | partitions | sample recall (kept?) | partitioning s | loop late p99 / max ms | MB exact / partitioned | exact median ms | partitioned median ms | p90 ms | speed-up | recall@250 | cosine vs exact |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const exclude = new Set(Array.from({ length: 20 }, (_, i) => i * 7 + 1));
for (const world of WORLDS) {
  for (const [n, dim] of SIZES) {
    const c = await catalogue(world, n, dim);
    const exact = fill(createVectorIndex(dim, { sliceFloats: SLICE_FLOATS }), c, dim);
    const queries = c.likes.map((ids) => ids.map((id) => c.vectors.subarray((id - 1) * dim, id * dim)));
    const truth: number[][] = [];
    for (const q of queries) truth.push(await exact.nearest(q, K, exclude));
    for (const share of SHARES) {
      // Partitioned whatever the sample says, to measure what the guard keeps and declines.
      const index = fill(createVectorIndex(dim, { sliceFloats: SLICE_FLOATS, partitionFloats: 1, probeShare: share, minSampleRecall: 0 }), c, dim);
      const { lateness, seconds } = await loopLatenessDuring(() => index.maintain());
      for (const q of queries) await index.nearest(q, K, exclude); // warm-up
      const exactMs: number[] = [];
      const ms: number[] = [];
      let recall = 0;
      let cosine = 0;
      for (const [at, q] of queries.entries()) {
        let t = performance.now();
        await exact.nearest(q, K, exclude);
        exactMs.push(performance.now() - t);
        t = performance.now();
        const found = await index.nearest(q, K, exclude);
        ms.push(performance.now() - t);
        const inTruth = new Set(truth[at]);
        recall += found.filter((id) => inTruth.has(id)).length / truth[at].length;
        cosine += meanCosine(exact, c.likes[at], found, dim) / meanCosine(exact, c.likes[at], truth[at], dim);
      }
      console.log(
        `| ${world} | ${n.toLocaleString('en-US')} x ${dim} | ${share * 100}% | ${index.partitions} | ${index.sampleRecall?.toFixed(3)} (${(index.sampleRecall ?? 0) >= MIN_SAMPLE_RECALL ? 'kept' : 'declined: exact'}) | ${seconds.toFixed(1)} | ${percentile(lateness, 0.99).toFixed(1)} / ${(lateness.at(-1) ?? 0).toFixed(1)} | ${Math.round(exact.bytes / 2 ** 20)} / ${Math.round(index.bytes / 2 ** 20)} | ${median(exactMs).toFixed(2)} | ${median(ms).toFixed(2)} | ${percentile(
          [...ms].sort((a, b) => a - b),
          0.9,
        ).toFixed(2)} | ${(median(exactMs) / median(ms)).toFixed(1)} | ${(recall / QUERIES).toFixed(3)} | ${(cosine / QUERIES).toFixed(4)} |`,
      );
      index.close();
    }
  }
}
console.log(
  `\ncommand: npm run bench:index-partitions -- --sizes ${values.sizes} --shares ${values.shares} --queries ${QUERIES} --styles ${STYLES} --spread ${SPREAD} --worlds ${values.worlds}`,
);
