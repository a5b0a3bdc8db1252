// npm run bench:soak [-- --minutes 10 --subscriptions 1000]
// Everything at once on two API instances for a while: tenant A floods likes at its rate
// limit and holds 1,000 live feeds; tenant B scores and reads feeds; tenant C, quiet, asks
// one small query at a time. Prints each API process's RSS over time, errors per operation
// (RATE_LIMITED answers to the flood are counted apart: they are the limit working), and
// p50/p99 per operation. Targets: no errors, RSS flat after warm-up (under 5% growth over
// the last half), the quiet tenant's p99 under 100 ms.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createTenant } from '../src/services/tenant-admin.service.js';
import { generateTasteWorld } from '../src/synth/taste-world.js';
import { createScratchDatabase, runOnServer, startApiProcess, SERVER_OPTION } from './processes.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    subscriptions: { type: 'string', default: '1000' },
    'tenant-rate': { type: 'string', default: '100' },
    server: SERVER_OPTION,
  },
});
const MINUTES = Number(values.minutes);
const SUBSCRIPTIONS = Number(values.subscriptions);
const TENANT_RATE = Number(values['tenant-rate']);
const SAMPLE_MS = 10_000;

const percentile = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : NaN);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

interface Stats {
  latencies: number[];
  /** When each answer came (ms since start), beside its latency. */
  at: number[];
  errors: number;
  limited: number;
  firstError?: string;
}

async function main() {
  const scratch = await createScratchDatabase(values.server, 'soak');
  const { adminUrl, appUrl } = scratch;
  const apis: ChildProcess[] = [];
  const clients: Client[] = [];
  try {
    const world = generateTasteWorld({ users: 1000, items: 5000, interactionsPerUser: 10, seed: 3 });
    const tenants = await Promise.all(
      ['flood', 'busy', 'quiet'].map((slug) => createTenant(adminUrl, { name: slug, slug, embeddingDim: 32, keyRoles: ['app'] })),
    );
    const [flood, busy, quiet] = tenants.map((t) => t.keys[0].key);
    const env = {
      DATABASE_URL: appUrl,
      DATABASE_ADMIN_URL: adminUrl,
      WORKER_URLS: '',
      // Rates on, for every tenant alike: the flood is held to its share.
      RATE_LIMIT_KEY_PER_SECOND: String(TENANT_RATE),
      RATE_LIMIT_KEY_BURST: String(TENANT_RATE * 2),
      RATE_LIMIT_TENANT_PER_SECOND: String(TENANT_RATE),
      RATE_LIMIT_TENANT_BURST: String(TENANT_RATE * 2),
      SUBSCRIPTIONS_PER_KEY: '100000',
      SOCKETS_PER_KEY: '100000',
      LOG_LEVEL: 'error',
    };
    const [a, b] = await Promise.all([startApiProcess(env), startApiProcess(env)]);
    apis.push(a.child, b.child);
    const urls = [a.url, b.url];
    let turn = 0;
    const gql = async (key: string, query: string, variables: object, stats?: Stats) => {
      const t = performance.now();
      try {
        const r = await fetch(urls[turn++ % 2], {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query, variables }),
        });
        const body = await r.json();
        const code = body.errors?.[0]?.extensions?.code;
        if (stats) {
          if (code === 'RATE_LIMITED') stats.limited++;
          else if (body.errors) {
            stats.errors++;
            stats.firstError ??= JSON.stringify(body.errors).slice(0, 200);
          } else {
            stats.latencies.push(performance.now() - t);
            stats.at.push(performance.now());
          }
        }
        return { body, retryAfter: Number(r.headers.get('retry-after') ?? 0) };
      } catch (error) {
        if (stats) {
          stats.errors++;
          stats.firstError ??= String(error);
        }
        return { body: {}, retryAfter: 0 };
      }
    };
    // Each tenant gets the same items; A and B the same users' histories.
    for (const key of [flood, busy, quiet]) {
      for (let i = 0; i < world.items.length; i += 1000) {
        await gql(key, 'mutation($i: [ItemInput!]!) { upsertItems(items: $i) { externalId } }', {
          i: world.items.slice(i, i + 1000).map((it) => ({ id: it.id, embedding: Array.from(it.vector) })),
        });
        await sleep(20);
      }
    }
    for (const key of [flood, busy]) {
      for (let i = 0; i < world.interactions.length; i += 500) {
        await gql(key, 'mutation($e: [InteractionInput!]!) { recordInteractions(events: $e) { count } }', {
          e: world.interactions.slice(i, i + 500).map((e) => ({ userId: e.user, itemId: e.item, kind: e.label ? 'LIKE' : 'DISLIKE' })),
        });
        await sleep(20);
      }
    }
    await runOnServer(adminUrl, 'ANALYZE');

    const ops: Record<string, Stats> = Object.fromEntries(
      ['flood: recordInteractions', 'busy: rank', 'busy: feed', 'quiet: item', 'live-feed pushes'].map((k) => [
        k,
        { latencies: [], at: [], errors: 0, limited: 0 },
      ]),
    );
    // 1,000 live feeds of the flooding tenant's users, half on each instance, opened within
    // the key's rate (each subscribe is an operation).
    let ready = 0;
    const pushedAt = new Map<string, number>();
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const allReady = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    for (let s = 0; s < SUBSCRIPTIONS; s++) {
      if (s % 10 === 9) await sleep((10 / (TENANT_RATE * 0.8)) * 1000);
      const userId = `user-${s % 1000}`;
      const client = createClient({
        url: urls[s % 2].replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${flood}` },
      });
      clients.push(client);
      client.subscribe<{ feedUpdated: { reason: string } }>(
        { query: 'subscription($u: ID!) { feedUpdated(userId: $u, first: 10) { reason feed { edges { node { score } } } } }', variables: { u: userId } },
        {
          next: (m) => {
            if (m.errors) {
              ops['live-feed pushes'].errors++;
              ops['live-feed pushes'].firstError ??= JSON.stringify(m.errors).slice(0, 200);
            } else if (m.data?.feedUpdated.reason === 'INITIAL') {
              if (++ready === SUBSCRIPTIONS) resolve();
            } else if (pushedAt.has(userId)) {
              ops['live-feed pushes'].latencies.push(performance.now() - pushedAt.get(userId)!);
              pushedAt.delete(userId);
            }
          },
          error: (e) => {
            ops['live-feed pushes'].errors++;
            ops['live-feed pushes'].firstError ??= String(e);
            reject(e instanceof Error ? e : new Error(String(e)));
          },
          complete: () => {},
        },
      );
    }
    await allReady;
    process.stderr.write(`${SUBSCRIPTIONS} live feeds open; soaking for ${MINUTES} min\n`);

    const end = performance.now() + MINUTES * 60_000;
    const running = () => performance.now() < end;
    const rss: { minute: number; a: number; b: number; heapA: number; heapB: number }[] = [];
    const heapMb = async (url: string) => {
      const text = await (await fetch(url.replace('/graphql', '/metrics'))).text();
      return Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? NaN) / 2 ** 20;
    };
    const sampler = (async () => {
      const t0 = performance.now();
      while (running()) {
        const [heapA, heapB] = await Promise.all([heapMb(a.url), heapMb(b.url)]);
        rss.push({ minute: (performance.now() - t0) / 60_000, a: rssMb(a.child.pid!), b: rssMb(b.child.pid!), heapA, heapB });
        await sleep(SAMPLE_MS);
      }
    })();
    let n = 0;
    // The flood: as fast as 4 writers can, backing off only as long as Retry-After says.
    const flooder = async () => {
      while (running()) {
        const i = n++;
        const userId = `user-${(i * 13) % 1000}`;
        // A push is timed from the send of a like that is stored to the first push after it.
        const timed = !pushedAt.has(userId);
        if (timed) pushedAt.set(userId, performance.now());
        const r = await gql(
          flood,
          'mutation($e: [InteractionInput!]!) { recordInteractions(events: $e) { count } }',
          {
            e: Array.from({ length: 5 }, (_, k) => ({ userId, itemId: `item-${(i * 31 + k) % 5000}`, kind: k % 2 ? 'LIKE' : 'DISLIKE' })),
          },
          ops['flood: recordInteractions'],
        );
        if (timed && !r.body.data) pushedAt.delete(userId); // refused: no push will follow it
        if (r.retryAfter) await sleep(Math.min(1000, r.retryAfter * 1000 * Math.random()));
      }
    };
    const paced = async (everyMs: number, work: (i: number) => Promise<unknown>) => {
      for (let i = 0; running(); i++) {
        const t = performance.now();
        await work(i);
        await sleep(Math.max(0, everyMs - (performance.now() - t)));
      }
    };
    const ids = Array.from({ length: 50 }, (_, k) => `item-${k * 97}`);
    await Promise.all([
      sampler,
      flooder(),
      flooder(),
      flooder(),
      flooder(),
      paced(100, (i) =>
        gql(
          busy,
          'query($u: ID!, $ids: [ID!]!) { rank(userId: $u, itemIds: $ids) { degraded items { score } } }',
          { u: `user-${i % 1000}`, ids },
          ops['busy: rank'],
        ),
      ),
      paced(100, (i) =>
        gql(busy, 'query($u: ID!) { feed(userId: $u, first: 20) { degraded edges { node { score } } } }', { u: `user-${(i * 7) % 1000}` }, ops['busy: feed']),
      ),
      paced(200, (i) => gql(quiet, 'query($id: ID!) { item(externalId: $id) { externalId prompt } }', { id: `item-${i % 5000}` }, ops['quiet: item'])),
    ]);

    const half = rss.filter((r) => r.minute >= MINUTES / 2);
    const growth = (key: 'a' | 'b') => (half.length > 1 ? ((half.at(-1)![key] - half[0][key]) / half[0][key]) * 100 : NaN);
    console.log(
      `\nSoak: ${MINUTES} min, 2 API processes on one PostgreSQL, ${SUBSCRIPTIONS} live feeds, rate limits ${TENANT_RATE} operations/s per key and per tenant`,
    );
    console.log(`machine: ${cpus().length} x ${cpus()[0].model}\n`);
    console.log('| minute | API A RSS MB | API B RSS MB | A heap used MB | B heap used MB |\n|---|---|---|---|---|');
    for (const r of rss.filter((_, i) => i % 6 === 0 || i === rss.length - 1))
      console.log(`| ${r.minute.toFixed(1)} | ${r.a.toFixed(0)} | ${r.b.toFixed(0)} | ${r.heapA.toFixed(0)} | ${r.heapB.toFixed(0)} |`);
    console.log(`\nRSS growth over the last half: A ${growth('a').toFixed(1)}%, B ${growth('b').toFixed(1)}%\n`);
    console.log('| operation | answered | per second | RATE_LIMITED | errors | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|');
    for (const [name, s] of Object.entries(ops)) {
      console.log(
        `| ${name} | ${s.latencies.length} | ${(s.latencies.length / (MINUTES * 60)).toFixed(1)} | ${s.limited} | ${s.errors} | ${percentile(s.latencies, 50).toFixed(0)} | ${percentile(s.latencies, 99).toFixed(0)} |`,
      );
    }
    // Where a quiet request's tail goes: the event loop's delay and the collector's pauses.
    for (const [name, url] of [
      ['A', a.url],
      ['B', b.url],
    ]) {
      const text = await (await fetch(url.replace('/graphql', '/metrics'))).text();
      const metric = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
      const major = {
        sum: metric(/^nodejs_gc_duration_seconds_sum\{kind="major"\} (\S+)/m),
        count: metric(/^nodejs_gc_duration_seconds_count\{kind="major"\} (\S+)/m),
      };
      console.log(
        `API ${name}: event-loop delay p99 ${(metric(/^nodejs_eventloop_lag_p99_seconds (\S+)/m) * 1000).toFixed(0)} ms, max ${(metric(/^nodejs_eventloop_lag_max_seconds (\S+)/m) * 1000).toFixed(0)} ms; ` +
          `major GCs ${major.count}, ${((major.sum / major.count) * 1000).toFixed(0)} ms each on average`,
      );
    }
    const q = ops['quiet: item'];
    const slowest = q.latencies
      .map((l, i) => ({ l, s: (q.at[i] - (end - MINUTES * 60_000)) / 1000 }))
      .sort((x, y) => y.l - x.l)
      .slice(0, 5);
    console.log(`the quiet tenant's 5 slowest: ${slowest.map((x) => `${x.l.toFixed(0)} ms at ${x.s.toFixed(0)} s`).join(', ')}`);
    for (const [name, s] of Object.entries(ops)) if (s.firstError) console.log(`first error of ${name}: ${s.firstError}`);
    console.log(`\ncommand: npm run bench:soak -- --minutes ${MINUTES} --subscriptions ${SUBSCRIPTIONS} --tenant-rate ${TENANT_RATE}`);
  } finally {
    await Promise.all(clients.map((c) => Promise.resolve(c.dispose())));
    for (const p of apis) p.kill('SIGTERM');
    await sleep(500);
    await scratch.drop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
