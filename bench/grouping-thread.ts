// npm run bench:grouping-thread [-- --users 20000,100000 --dim 10 --runs 3]
// A taste-group snapshot's clustering (src/clustering/grouping.ts: k by silhouette over 2-12 on
// a 3,000-user sample, then k-means++ of all) in line on the event loop, as before, and on a
// thread of its own (src/services/grouping-off-thread.ts), alternating. Meanwhile a timer asks for the
// loop every millisecond: how late it comes is what any other request on that process (in the
// API, every tenant's) waits while a snapshot is computed. Runs the compiled thread of dist/, so
// `npm run build` first.
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { groupPoints, type GroupingOptions } from '../src/clustering/grouping.js';
import { groupPointsOffThread } from '../src/services/grouping-off-thread.js';
import { createRandom, type Points } from '../src/clustering/points.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '20000,100000' },
    dim: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
  },
});
const USERS = values.users.split(',').map(Number);
const DIM = Number(values.dim);
const RUNS = Number(values.runs);
const THREAD = new URL('../dist/clustering/grouping-thread.js', import.meta.url);
const groups = loadConfig({}).tasteGroups;
// As the platform groups (src/apps/wiring/services.ts).
const options: GroupingOptions = { minK: groups.minK, maxK: groups.maxK, sampleSize: groups.silhouetteSample, representatives: 5, seed: 0 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Unit-length points around 6 taste directions, as the service groups them. */
function users(n: number): Points {
  const random = createRandom(9);
  const centres = Array.from({ length: 6 }, () => Array.from({ length: DIM }, () => random.normal()));
  const data = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let d = 0; d < DIM; d++) norm += (data[i * DIM + d] = centres[i % 6][d] + 0.6 * random.normal()) ** 2;
    for (let d = 0; d < DIM; d++) data[i * DIM + d] /= Math.sqrt(norm);
  }
  return { n, dim: DIM, data };
}

/** Wall time of `group` and how late a 1 ms timer fired meanwhile (the longest wait). */
async function measure(group: () => Promise<unknown>): Promise<{ seconds: number; longestWait: number; turns: number }> {
  let asked = performance.now();
  let longestWait = 0;
  let turns = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longestWait = Math.max(longestWait, now - asked - 1);
    asked = now;
    turns++;
  }, 1);
  const start = performance.now();
  await group();
  const seconds = (performance.now() - start) / 1000;
  clearInterval(timer);
  // The wait still open when the grouping ended counts too.
  longestWait = Math.max(longestWait, performance.now() - asked - 1);
  return { seconds, longestWait, turns };
}

console.log(
  `\nTaste-group clustering of N users (dimension ${DIM}, 6 directions), in line against on a thread, alternating; medians of ${RUNS}; ${cpus().length} x ${cpus()[0].model}\n`,
);
console.log('| users | where | seconds | longest wait of the event loop ms | turns of a 1 ms timer |');
console.log('|---|---|---|---|---|');
for (const n of USERS) {
  const points = users(n);
  const rows = { 'in line': [] as Awaited<ReturnType<typeof measure>>[], 'on a thread': [] as Awaited<ReturnType<typeof measure>>[] };
  for (let r = 0; r < RUNS; r++) {
    rows['in line'].push(await measure(async () => groupPoints(points, options)));
    rows['on a thread'].push(await measure(() => groupPointsOffThread(points, options, THREAD)));
  }
  for (const [where, runs] of Object.entries(rows)) {
    console.log(
      `| ${n.toLocaleString('en-US')} | ${where} | ${median(runs.map((x) => x.seconds)).toFixed(2)} | ${median(runs.map((x) => x.longestWait)).toFixed(1)} | ${median(runs.map((x) => x.turns))} |`,
    );
  }
}
console.log(`\ncommand: npm run bench:grouping-thread -- --users ${values.users} --dim ${DIM} --runs ${RUNS}`);
