// npm run bench:index-drift [-- --sizes 100000x512,500000x512 --steps 25,50,100 --queries 40]
// A partitioned vector index (src/ranking/vector-index.ts) whose catalogue moves on to new
// styles under its centroids: the items are rewritten, 5,000 at a time with maintain() after
// each (as a tenant's refreshes call it), with vectors of the same kind of catalogue whose styles'
// centres are new (bench/catalogues.ts, `restyle`). Two indexes take the same writes side by
// side: the shipped one, which checks its partitions again on a fresh sample once a tenth of it
// has been written and partitions again where they miss, and one that never checks (the index
// before session 62). At each step (the share of items rewritten so far) each answers feeds'
// queries (the 8 likes of a taste near a new style, k = 250, 20 excluded) against an exact index
// of the same items: recall@250 and the median time of a query. The maintain() columns sum the
// background work of the step (filing, checks, partitionings) and how late a 1 ms timer came
// meanwhile; MB is the index's arrays after the step (VectorIndex.bytes).
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { catalogue, type CatalogueOptions } from './catalogues.js';
import { loopLatenessDuring } from './loop-lateness.js';
import { median, percentile } from './stats.js';
import { createVectorIndex, type PartitioningOutcome, type VectorIndex } from '../src/ranking/vector-index.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000x512,500000x512' },
    steps: { type: 'string', default: '25,50,100' },
    queries: { type: 'string', default: '40' },
    styles: { type: 'string', default: '200' },
    spread: { type: 'string', default: '0.8' },
  },
});
const SIZES = values.sizes.split(',').map((s) => s.split('x').map(Number) as [number, number]);
const STEPS = values.steps.split(',').map((s) => Number(s) / 100);
const QUERIES = Number(values.queries);
const SLICE_FLOATS = loadConfig({}).feed.scanSliceFloats;
const PROBE_SHARE = loadConfig({}).feed.probeShare;
const BATCH = 5000;
const K = 250;
const options: CatalogueOptions = { queries: QUERIES, styles: Number(values.styles), spread: Number(values.spread) };

interface Side {
  label: string;
  index: VectorIndex;
  tries: PartitioningOutcome[];
  /** This step's maintain() seconds, and the timer's lateness meanwhile. */
  seconds: number;
  lateness: number[];
}

function side(label: string, dim: number, recheckWrittenShare?: number): Side {
  const tries: PartitioningOutcome[] = [];
  const index = createVectorIndex(dim, {
    sliceFloats: SLICE_FLOATS,
    partitionFloats: 1,
    probeShare: PROBE_SHARE,
    recheckWrittenShare,
    onPartitioned: (o) => tries.push(o),
  });
  return { label, index, tries, seconds: 0, lateness: [] };
}

console.log(
  `\nA partitioned index whose catalogue moves on to new styles: items rewritten ${BATCH.toLocaleString('en-US')} at a time, maintain() after each; ${QUERIES} queries of new-style tastes (8 likes, k = ${K}) a step, timed side by side with an exact index; ${PROBE_SHARE * 100}% of partitions probed; ${cpus().length} x ${cpus()[0].model}\n`,
);
console.log(
  '| items x dimension | rewritten | index | partitions | tries so far (trigger: recall before → after) | maintain() s this step | loop late p99 / max ms | MB after | exact median ms | median ms | recall@250 |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
const exclude = new Set(Array.from({ length: 20 }, (_, i) => i * 7 + 1));
for (const [n, dim] of SIZES) {
  const before = await catalogue('clustered', n, dim, options);
  const after = await catalogue('clustered', n, dim, { ...options, restyle: 12 });
  const exact = createVectorIndex(dim, { sliceFloats: SLICE_FLOATS });
  const sides = [side('checks again (shipped)', dim), side('never checks again', dim, Infinity)];
  const all = [exact, ...sides.map((s) => s.index)];
  for (let i = 0; i < n; i++) for (const index of all) index.upsert(i + 1, before.vectors.subarray(i * dim, (i + 1) * dim), 1);
  for (const s of sides) await s.index.maintain();
  let rewritten = 0;
  for (const step of STEPS) {
    for (const s of sides) Object.assign(s, { seconds: 0, lateness: [] });
    for (; rewritten < Math.round(step * n);) {
      const last = Math.min(Math.round(step * n), rewritten + BATCH);
      for (let i = rewritten; i < last; i++) for (const index of all) index.upsert(i + 1, after.vectors.subarray(i * dim, (i + 1) * dim), 2);
      rewritten = last;
      for (const s of sides) {
        const { lateness, seconds } = await loopLatenessDuring(() => s.index.maintain());
        s.seconds += seconds;
        s.lateness.push(...lateness);
      }
    }
    // New-style tastes: the likes that were rewritten already.
    const queries = after.likes
      .map((ids) => ids.filter((id) => id <= rewritten))
      .filter((ids) => ids.length > 0)
      .map((ids) => ids.map((id) => after.vectors.subarray((id - 1) * dim, id * dim)));
    const truth: number[][] = [];
    const exactMs: number[] = [];
    for (const q of queries) {
      const t = performance.now();
      truth.push(await exact.nearest(q, K, exclude));
      exactMs.push(performance.now() - t);
    }
    for (const s of sides) {
      for (const q of queries) await s.index.nearest(q, K, exclude); // warm-up
      const ms: number[] = [];
      let recall = 0;
      for (const [at, q] of queries.entries()) {
        const t = performance.now();
        const found = await s.index.nearest(q, K, exclude);
        ms.push(performance.now() - t);
        const inTruth = new Set(truth[at]);
        recall += found.filter((id) => inTruth.has(id)).length / truth[at].length;
      }
      const tries = s.tries
        .map(
          (o) =>
            `${o.trigger}${o.previousRecall === undefined ? '' : `: ${o.previousRecall.toFixed(3)}`} → ${o.sampleRecall.toFixed(3)}${o.partitions ? '' : ' (exact)'}`,
        )
        .join('; ');
      const late = s.lateness.sort((a, b) => a - b);
      console.log(
        `| ${n.toLocaleString('en-US')} x ${dim} | ${Math.round((rewritten / n) * 100)}% | ${s.label} | ${s.index.partitions} | ${tries} | ${s.seconds.toFixed(1)} | ${percentile(late, 0.99).toFixed(1)} / ${(late.at(-1) ?? 0).toFixed(1)} | ${Math.round(s.index.bytes / 2 ** 20)} | ${median(exactMs).toFixed(2)} | ${median(ms).toFixed(2)} | ${(recall / queries.length).toFixed(3)} |`,
      );
    }
  }
  for (const s of sides) s.index.close();
}
console.log(
  `\ncommand: npm run bench:index-drift -- --sizes ${values.sizes} --steps ${values.steps} --queries ${QUERIES} --styles ${values.styles} --spread ${values.spread}`,
);
