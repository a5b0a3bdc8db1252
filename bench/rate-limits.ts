// npm run bench:rate-limits [-- --instances 1,2,4 --share 0,250,1000 --rate 50 --burst 50 --seconds 10 --clients 4 --runs 3]
// How close a tenant's rate limit holds behind several API instances. For each number of
// instances and each RATE_LIMIT_SHARE_MS (0: each instance limits on its own), API processes
// start as deployed on one PostgreSQL, and one tenant (a fresh one per run, so every run starts
// from full buckets) floods them for `seconds` with `clients` back-to-back clients per
// instance: "even" gives every instance the same clients, "skewed" puts them all on the first
// instance but one on each other. What the instances let through in all is compared with what
// the rate allows over the flood (burst + rate x seconds), and the answers per second
// (refusals included) show what sharing costs the request path. Medians over `runs`.
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { createTenant } from '../src/services/tenant-admin.service.js';
import { createScratchDatabase, startApiProcess, SERVER_OPTION } from './processes.js';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '1,2,4' },
    share: { type: 'string', default: '0,250,1000' },
    rate: { type: 'string', default: '50' },
    burst: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    server: SERVER_OPTION,
  },
});
const list = (s: string) => s.split(',').map(Number);
const RATE = Number(values.rate);
const BURST = Number(values.burst);
const SECONDS = Number(values.seconds);
const CLIENTS = Number(values.clients);
const RUNS = Number(values.runs);
const ALLOWED = BURST + RATE * SECONDS;
const QUERY = JSON.stringify({ query: '{ items(first: 1) { edges { node { externalId } } } }' });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Back-to-back requests to one instance until the deadline: what passed and what was answered. */
async function client(url: string, key: string, until: number) {
  let passed = 0;
  let answered = 0;
  while (Date.now() < until) {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: QUERY });
    const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    answered++;
    if (!body.errors) passed++;
    else if (body.errors[0].extensions?.code !== 'RATE_LIMITED') throw new Error(`unexpected answer: ${JSON.stringify(body)}`);
  }
  return { passed, answered };
}

async function main() {
  const db = await createScratchDatabase(values.server, 'rates');
  const rows: string[] = [];
  let tenants = 0;
  try {
    for (const instances of list(values.instances)) {
      for (const shareMs of list(values.share)) {
        const processes: ChildProcess[] = [];
        try {
          const urls: string[] = [];
          for (let i = 0; i < instances; i++) {
            const started = await startApiProcess({
              DATABASE_URL: db.appUrl,
              DATABASE_ADMIN_URL: db.adminUrl,
              WORKER_URLS: '',
              RATE_LIMIT_TENANT_PER_SECOND: String(RATE),
              RATE_LIMIT_TENANT_BURST: String(BURST),
              RATE_LIMIT_SHARE_MS: String(shareMs),
            });
            processes.push(started.child);
            urls.push(started.url);
          }
          for (const spread of instances > 1 ? ['even', 'skewed'] : ['even']) {
            // Clients per instance: the same on each, or all but one on each other on the first.
            const clients = urls.map((_, i) => (spread === 'even' ? CLIENTS : i === 0 ? CLIENTS * instances - (instances - 1) : 1));
            const passed: number[] = [];
            const perSecond: number[] = [];
            for (let run = 0; run < RUNS; run++) {
              const slug = `rates-${++tenants}`;
              const { keys } = await createTenant(db.adminUrl, { name: slug, slug, embeddingDim: 4, keyRoles: ['app'] });
              const until = Date.now() + SECONDS * 1000;
              const results = await Promise.all(urls.flatMap((url, i) => Array.from({ length: clients[i] }, () => client(url, keys[0].key, until))));
              passed.push(results.reduce((sum, r) => sum + r.passed, 0));
              perSecond.push(results.reduce((sum, r) => sum + r.answered, 0) / SECONDS);
            }
            const p = median(passed);
            rows.push(
              `| ${instances} | ${shareMs === 0 ? 'off' : `${shareMs} ms`} | ${spread} (${clients.join('+')}) | ${p} (${passed.join(', ')}) | ${(p / ALLOWED).toFixed(2)} | ${Math.round(median(perSecond))} |`,
            );
            console.error(rows.at(-1));
          }
        } finally {
          for (const child of processes) child.kill('SIGTERM');
          await Promise.all(processes.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))));
        }
      }
    }
  } finally {
    await db.drop();
  }
  const { server: _server, ...shown } = values;
  console.log(
    `\nnpm run bench:rate-limits -- ${Object.entries(shown)
      .map(([name, value]) => `--${name} ${value}`)
      .join(' ')}`,
  );
  console.log(
    `One tenant at ${RATE} operations/s, bursts of ${BURST}, flooding for ${SECONDS} s: the rate allows ${ALLOWED}. Medians of ${RUNS} runs (each run's count in brackets).\n`,
  );
  console.log('| instances | sharing | clients | let through | / allowed | answers/s |');
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}

await main();
