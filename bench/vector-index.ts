// npm run bench:vector-index [-- --rounds 21]
// The feed's "items nearest the user's likes" scan (src/ranking/vector-index.ts): milliseconds
// per nearest() call, k = 250 of a 500-candidate pool, 8 liked items as queries, 20 excluded,
// at tenant sizes from 10,000 items of dimension 32 to 100,000 of dimension 512 (CLIP-sized).
// The scan runs on the API's event loop, so this is also how long one feed blocks it.
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createVectorIndex } from '../src/ranking/vector-index.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '21' } } });
const ROUNDS = Number(values.rounds);
const SIZES: [number, number][] = [
  [10_000, 32],
  [100_000, 32],
  [10_000, 512],
  [100_000, 512],
];

/** A fixed pseudo-random sequence in [-1, 1), so every run scans the same vectors. */
function sequence(seed: number) {
  let s = seed;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

console.log(
  `\nVector index nearest(): median of ${ROUNDS} calls after 3 warm-up calls; 8 queries, k = 250, 20 ids excluded; ${cpus().length} x ${cpus()[0].model}\n`,
);
console.log('| items | dimension | index MB | median ms | p90 ms | items scanned per ms |');
console.log('|---|---|---|---|---|---|');
for (const [n, dim] of SIZES) {
  const random = sequence(1);
  const index = createVectorIndex(dim);
  const v = new Float32Array(dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) v[d] = random();
    index.upsert(i + 1, v);
  }
  const queries = Array.from({ length: 8 }, () => Float32Array.from({ length: dim }, random));
  const exclude = new Set(Array.from({ length: 20 }, (_, i) => i * 7 + 1));
  for (let i = 0; i < 3; i++) await index.nearest(queries, 250, exclude);
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await index.nearest(queries, 250, exclude);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(ROUNDS / 2)];
  console.log(
    `| ${n.toLocaleString('en-US')} | ${dim} | ${Math.round((n * dim * 4) / 2 ** 20)} | ${median.toFixed(2)} | ${times[Math.floor(ROUNDS * 0.9)].toFixed(2)} | ${Math.round(n / median).toLocaleString('en-US')} |`,
  );
}
console.log(`\ncommand: npm run bench:vector-index -- --rounds ${ROUNDS}`);
