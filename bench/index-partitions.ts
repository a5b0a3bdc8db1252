// npm run bench:index-partitions [-- --sizes 100000x512,500000x512 --shares 2,5,10,20 --queries 40]
// The partitioned vector index (src/ranking/vector-index.ts, an inverted file) against the exact
// scan on the same items: how long partitioning takes and how late the event loop's turns come
// meanwhile, the memory, a feed's nearest() (k = 250 of a 500-candidate pool, 8 liked items,
// 20 excluded) timed side by side with the exact scan, query by query, and what it finds: the
// share of the exact 250 it returns (recall) and the mean cosine of what it returns over the
// exact 250's (1 = as near as the exact answer). Every index here is partitioned, even where the
// index's check on its sample (MIN_SAMPLE_RECALL) would decline and stay exact; the table says
// which it would.
// Two kinds of catalogue (bench/catalogues.ts): clustered, CLIP-like vectors near `--styles`
// centres, and uniform, vectors without structure, the worst case.
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { loopLatenessDuring } from './loop-lateness.js';
import { median, percentile } from './stats.js';
import { catalogue, type Catalogue } from './catalogues.js';
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
const K = 250;

function fill(index: VectorIndex, c: Catalogue, dim: number): VectorIndex {
  const n = c.vectors.length / dim;
  for (let i = 0; i < n; i++) index.upsert(i + 1, c.vectors.subarray(i * dim, (i + 1) * dim));
  return index;
}

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
    const c = await catalogue(world, n, dim, { queries: QUERIES, styles: STYLES, spread: SPREAD });
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
