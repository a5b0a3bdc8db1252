// npm run bench:score [-- --items 20000 --dim 512 --candidates 500 --callers 1,8 --seconds 5 --runs 3]
// Score queries through one API process: `callers` loops each ask for one user's scores over
// `candidates` images drawn at random from a tenant of `items` images of dimension `dim` (the
// synth world, 100 users with 20 likes and dislikes each), back to back for `seconds`, `runs`
// times in turn; answers a second and latency, medians over the runs. The tenant's in-memory
// index is warmed first (score queries until its bytes stop growing), so the answers measure an
// instance that has seen the tenant before. Dimension 32 is ranked by the shipped base model
// (in process); other dimensions have no model here, so the history centroid ranks them
// (degraded) and the answer is mostly reading the candidates. To compare two versions, run the
// same file from a worktree of each, alternating.
import type { ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createTenant } from '../src/services/tenant-admin.service.js';
import { generateTasteWorld } from '../src/synth/taste-world.js';
import { createScratchDatabase, gql, loadWorld, startApiProcess, SERVER_OPTION } from './processes.js';
import { median, percentile } from './stats.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '20000' },
    dim: { type: 'string', default: '512' },
    candidates: { type: 'string', default: '500' },
    callers: { type: 'string', default: '1,8' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    server: SERVER_OPTION,
  },
});
const ITEMS = Number(values.items);
const DIM = Number(values.dim);
const CANDIDATES = Number(values.candidates);
const CALLERS = values.callers.split(',').map(Number);
const SECONDS = Number(values.seconds);
const RUNS = Number(values.runs);
const USERS = 100;

const SCORE = 'query($u: ID!, $i: [ID!]!) { score(userId: $u, itemIds: $i) { items { score } degraded } }';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A fixed pseudo-random sequence, so every run asks for the same candidates. */
function sequence(seed: number) {
  let s = seed;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

const indexBytes = async (url: string) => Number(/^tastegraph_feed_index_bytes (\S+)$/m.exec(await (await fetch(new URL('/metrics', url))).text())?.[1] ?? 0);

/** Score queries until the instance's index bytes have not grown for a second (or a minute has passed). */
async function warm(url: string, key: string): Promise<number> {
  const end = performance.now() + 60_000;
  let last = -1;
  for (let i = 0; performance.now() < end; i++) {
    await gql(url, key, SCORE, { u: `user-${i % USERS}`, i: [`item-${i % ITEMS}`] });
    const bytes = await indexBytes(url);
    if (bytes === last && i > 0) return bytes;
    last = bytes;
    await sleep(1000);
  }
  return last;
}

async function round(url: string, key: string, callers: number, random: () => number) {
  const latencies: number[] = [];
  let degraded = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < end) {
        const itemIds = new Set<string>();
        while (itemIds.size < CANDIDATES) itemIds.add(`item-${Math.floor(random() * ITEMS)}`);
        const t = performance.now();
        const data = await gql(url, key, SCORE, { u: `user-${Math.floor(random() * USERS)}`, i: [...itemIds] });
        latencies.push(performance.now() - t);
        if ((data.score as { degraded: boolean }).degraded) degraded++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / SECONDS, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), degraded: degraded / latencies.length };
}

async function main() {
  const scratch = await createScratchDatabase(values.server, 'score');
  let api: ChildProcess | undefined;
  try {
    const tenant = await createTenant(scratch.adminUrl, { name: 'scored', slug: 'scored', embeddingDim: DIM, keyRoles: ['app'] });
    await loadWorld(scratch.adminUrl, tenant.tenant.id, generateTasteWorld({ users: USERS, items: ITEMS, dim: DIM, interactionsPerUser: 20, seed: 1 }));
    const started = await startApiProcess({ DATABASE_URL: scratch.appUrl, DATABASE_ADMIN_URL: scratch.adminUrl, WORKER_URLS: '' });
    api = started.child;
    const key = tenant.keys[0].key;
    const bytes = await warm(started.url, key);
    console.log(
      `\nScore queries of ${CANDIDATES} candidates, ${ITEMS.toLocaleString('en-US')} images of dimension ${DIM}; index ${Math.round(bytes / 2 ** 20)} MB after warming; ${SECONDS} s a run, ${RUNS} runs; ${cpus().length} x ${cpus()[0].model}\n`,
    );
    console.log('| callers | answers/s (runs) | p50 ms (runs) | p99 ms (runs) | degraded |');
    console.log('|---|---|---|---|---|');
    const random = sequence(7);
    for (const callers of CALLERS) {
      const runs: Awaited<ReturnType<typeof round>>[] = [];
      for (let r = 0; r < RUNS; r++) runs.push(await round(started.url, key, callers, random));
      const cell = (pick: (m: Awaited<ReturnType<typeof round>>) => number) =>
        `${median(runs.map(pick)).toFixed(1)} (${runs.map((m) => pick(m).toFixed(1)).join(', ')})`;
      console.log(
        `| ${callers} | ${cell((m) => m.perSecond)} | ${cell((m) => m.p50)} | ${cell((m) => m.p99)} | ${(median(runs.map((m) => m.degraded)) * 100).toFixed(0)}% |`,
      );
    }
    console.log(
      `\ncommand: npm run bench:score -- --items ${ITEMS} --dim ${DIM} --candidates ${CANDIDATES} --callers ${values.callers} --seconds ${SECONDS} --runs ${RUNS}`,
    );
  } finally {
    api?.kill('SIGTERM');
    await scratch.drop();
  }
}

await main();
