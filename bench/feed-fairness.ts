// npm run bench:feed-fairness [-- --items 200000 --dim 512 --seconds 10 --rounds 2 --feeders 4 --compare slices|partitions]
// What a tenant with a large catalogue's feeds cost another tenant on the same API instance.
// One tenant has `items` images of dimension `dim`, so each of its feeds scans its whole vector
// index on the API's event loop (src/ranking/vector-index.ts); `feeders` loops ask for its
// users' feeds back to back. Meanwhile a quiet tenant (the demo world's 1,000 images of
// dimension 32, scored by the default model) asks for one user's scores over 20 images every
// 20 ms and records each answer's latency. Two API processes on one database run the same load
// in turns, each round both, in alternating order, after one run of the quiet tenant alone for
// reference. `--compare slices` (the default): both scan exactly (FEED_INDEX_PARTITION_FLOATS=0),
// one in slices as shipped (FEED_SCAN_SLICE_FLOATS default), one in one piece
// (FEED_SCAN_SLICE_FLOATS=0, the code before session 60). `--compare partitions`: one with the
// shipped settings, whose index partitions itself past FEED_INDEX_PARTITION_FLOATS (the big
// tenant's images are the synth world's, in 12 styles), one scanning exactly in slices.
import type { ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { createTenant } from '../src/services/tenant-admin.service.js';
import { generateTasteWorld } from '../src/synth/taste-world.js';
import { createScratchDatabase, gql, loadWorld, startApiProcess, SERVER_OPTION } from './processes.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '200000' },
    dim: { type: 'string', default: '512' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    compare: { type: 'string', default: 'slices' },
    feeders: { type: 'string', default: '4' },
    server: SERVER_OPTION,
  },
});
const ITEMS = Number(values.items);
const DIM = Number(values.dim);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const FEEDERS = Number(values.feeders);
const COMPARE = values.compare;
if (COMPARE !== 'slices' && COMPARE !== 'partitions') throw new Error(`--compare: slices or partitions, not ${COMPARE}`);
const USERS = 200;
const QUIET_EVERY_MS = 20;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const FEED = 'query($u: ID!) { feed(userId: $u, first: 20) { edges { node { score } } } }';
const SCORE = 'query($u: ID!, $i: [ID!]!) { score(userId: $u, itemIds: $i) { items { score } } }';

interface Api {
  name: string;
  url: string;
}

/**
 * The instance's /metrics text, asked again once if the connection drops: a 500,000-image run
 * lost it once ("other side closed") while the instance built its index, and the bench died.
 */
async function metricsText(graphqlUrl: string): Promise<string> {
  const url = new URL('/metrics', graphqlUrl);
  try {
    return await (await fetch(url)).text();
  } catch {
    await sleep(500);
    return await (await fetch(url)).text();
  }
}

/** Waits until the instance's index memory holds every image and has stopped growing for a second. */
async function indexBuilt(graphqlUrl: string): Promise<void> {
  let last = -1;
  for (;;) {
    const text = await metricsText(graphqlUrl);
    const bytes = Number(/^tastegraph_feed_index_bytes (\S+)$/m.exec(text)?.[1] ?? 0);
    if (bytes === last && bytes >= ITEMS * DIM * 4) return;
    last = bytes;
    await sleep(1000);
  }
}

/** Waits until the instance's big index has tried partitioning, and says what it found. */
async function partitioned(graphqlUrl: string): Promise<void> {
  const started = performance.now();
  for (;;) {
    const text = await metricsText(graphqlUrl);
    const counted = /^tastegraph_feed_index_partitionings_total\{([^}]*trigger="size"[^}]*)\} [1-9]/m.exec(text)?.[1];
    const outcome = counted && /outcome="(\w+)"/.exec(counted)?.[1];
    if (outcome) {
      console.log(`partitioning: ${outcome}, ${((performance.now() - started) / 1000).toFixed(0)} s after the index was built`);
      return;
    }
    await sleep(500);
  }
}

async function round(api: Api, bigKey: string, quietKey: string, feederCount = FEEDERS) {
  let running = true;
  let feeds = 0;
  let n = 0;
  const feeders = Array.from({ length: feederCount }, async () => {
    while (running) {
      await gql(api.url, bigKey, FEED, { u: `user-${n++ % USERS}` });
      feeds++;
    }
  });
  const latencies: number[] = [];
  const quietItems = Array.from({ length: 20 }, (_, i) => `item-${i * 7}`);
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    await gql(api.url, quietKey, SCORE, { u: 'user-3', i: quietItems });
    const took = performance.now() - t;
    latencies.push(took);
    await sleep(Math.max(0, QUIET_EVERY_MS - took));
  }
  running = false;
  await Promise.all(feeders);
  latencies.sort((a, b) => a - b);
  return {
    feedsPerSecond: feeds / SECONDS,
    answers: latencies.length,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies.at(-1)!,
  };
}

async function main() {
  const scratch = await createScratchDatabase(values.server, 'fairness');
  const apis: ChildProcess[] = [];
  try {
    const loadStart = performance.now();
    const big = await createTenant(scratch.adminUrl, { name: 'big', slug: 'big', embeddingDim: DIM, keyRoles: ['app'] });
    await loadWorld(scratch.adminUrl, big.tenant.id, generateTasteWorld({ users: USERS, items: ITEMS, dim: DIM, interactionsPerUser: 20, seed: 1 }));
    const quiet = await createTenant(scratch.adminUrl, { name: 'quiet', slug: 'quiet', embeddingDim: 32, keyRoles: ['app'] });
    await loadWorld(scratch.adminUrl, quiet.tenant.id, generateTasteWorld({ users: 100, items: 1000, interactionsPerUser: 20, seed: 2 }));
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const env = { DATABASE_URL: scratch.appUrl, DATABASE_ADMIN_URL: scratch.adminUrl, WORKER_URLS: '' };
    const exact = { ...env, FEED_INDEX_PARTITION_FLOATS: '0' };
    const pair: [string, Record<string, string>][] =
      COMPARE === 'partitions'
        ? [
            ['partitioned', env],
            ['exact, in slices', exact],
          ]
        : [
            ['in slices', exact],
            ['one piece', { ...exact, FEED_SCAN_SLICE_FLOATS: '0' }],
          ];
    const started = await Promise.all(pair.map(([, e]) => startApiProcess(e)));
    apis.push(...started.map((s) => s.child));
    const targets: Api[] = pair.map(([name], i) => ({ name, url: started[i].url }));
    // Each instance builds the big tenant's index (in the background, after the first feed) and
    // loads the quiet tenant's model before anything is measured, one instance at a time.
    for (const api of targets) {
      await gql(api.url, big.keys[0].key, FEED, { u: 'user-0' });
      await indexBuilt(api.url);
      if (api.name === 'partitioned') {
        // Below the threshold the index never tries (and the wait would never end).
        const threshold = loadConfig(process.env).feed.partitionFloats;
        if (threshold > 0 && ITEMS * DIM >= threshold) await partitioned(api.url);
        else console.log(`partitioning: not tried, ${ITEMS} x ${DIM} is below FEED_INDEX_PARTITION_FLOATS (${threshold})`);
      }
      for (let i = 1; i < 4; i++) await gql(api.url, big.keys[0].key, FEED, { u: `user-${i}` });
      await gql(api.url, quiet.keys[0].key, SCORE, { u: 'user-3', i: ['item-0'] });
    }
    const slice = loadConfig({}).feed.scanSliceFloats;
    console.log(
      `\nA quiet tenant's score queries (20 images, one every ${QUIET_EVERY_MS} ms) while ${FEEDERS} loops ask for another tenant's feeds back to back; that tenant has ${ITEMS.toLocaleString('en-US')} images of dimension ${DIM}. ${SECONDS} s a run; slices of ${slice.toLocaleString('en-US')} numbers; loaded in ${loadSeconds.toFixed(0)} s; ${cpus().length} x ${cpus()[0].model}\n`,
    );
    console.log('| round | scan | big tenant feeds/s | quiet answers | quiet p50 ms | p99 ms | max ms |');
    console.log('|---|---|---|---|---|---|---|');
    const alone = await round(targets[0], big.keys[0].key, quiet.keys[0].key, 0);
    console.log(`| - | no feeds asked for | 0 | ${alone.answers} | ${alone.p50.toFixed(1)} | ${alone.p99.toFixed(1)} | ${alone.max.toFixed(1)} |`);
    for (let r = 1; r <= ROUNDS; r++) {
      const order = r % 2 ? targets : [...targets].reverse();
      for (const api of order) {
        const m = await round(api, big.keys[0].key, quiet.keys[0].key);
        console.log(`| ${r} | ${api.name} | ${m.feedsPerSecond.toFixed(1)} | ${m.answers} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} | ${m.max.toFixed(1)} |`);
      }
    }
    console.log(
      `\ncommand: npm run bench:feed-fairness -- --items ${ITEMS} --dim ${DIM} --seconds ${SECONDS} --rounds ${ROUNDS} --feeders ${FEEDERS} --compare ${COMPARE}`,
    );
  } finally {
    for (const child of apis) child.kill('SIGTERM');
    await scratch.drop();
  }
}

await main();
