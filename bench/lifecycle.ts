// npm run bench:lifecycle [-- --runs 3 --items 100000 --heavy 10000 --delete 10000 --clients 4 --batch 100]
// Erasing a user with `heavy` interactions (deleteUser), and deleting `delete` items (deleteItems,
// 1,000 per call) from a tenant of `items`, while `clients` concurrent clients keep recording
// likes through recordInteractions: how long each operation takes, what the concurrent writes
// see (latency p50/p99/max, failures) against a baseline of the same load alone, and the longest
// lock wait any other session was seen in (pg_locks.waitstart, sampled every 5 ms).
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createTenant } from '../src/services/tenant-admin.service.js';
import { createScratchDatabase, startApiProcess, SERVER_OPTION } from './processes.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    items: { type: 'string', default: '100000' },
    users: { type: 'string', default: '5000' },
    'per-user': { type: 'string', default: '40' },
    heavy: { type: 'string', default: '10000' },
    delete: { type: 'string', default: '10000' },
    clients: { type: 'string', default: '4' },
    batch: { type: 'string', default: '100' },
    'baseline-seconds': { type: 'string', default: '5' },
    server: SERVER_OPTION,
  },
});
const RUNS = Number(values.runs);
const ITEMS = Number(values.items);
const USERS = Number(values.users);
const PER_USER = Number(values['per-user']);
const HEAVY = Number(values.heavy);
const DELETE = Number(values.delete);
const CLIENTS = Number(values.clients);
const BATCH = Number(values.batch);
const BASELINE_MS = Number(values['baseline-seconds']) * 1000;
const DIM = 32;
// Items deleted come from the lower half; the ingest load likes items of the upper half (a write
// naming a deleted item would rightly fail, which is not what is measured).
const DELETABLE = Math.floor(ITEMS / 2);
if (RUNS * DELETE > DELETABLE) throw new Error(`--runs x --delete must be at most half of --items (${DELETABLE})`);

const percentile = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : NaN);
const median = (xs: number[]) => percentile(xs, 50);
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : '-');

interface Request {
  start: number;
  end: number;
  ok: boolean;
}

async function load(owner: pg.Client, tenantId: string) {
  await owner.query(
    `INSERT INTO items (tenant_id, external_id, embedding)
     SELECT $1::uuid, 'item-' || g, decode(repeat('3f', ${DIM * 4}), 'hex') FROM generate_series(0, ${ITEMS - 1}) g`,
    [tenantId],
  );
  await owner.query(
    `INSERT INTO users (tenant_id, external_id)
     SELECT $1::uuid, 'user-' || g FROM generate_series(0, ${USERS - 1}) g
     UNION ALL SELECT $1::uuid, 'heavy-' || r FROM generate_series(0, ${RUNS - 1}) r`,
    [tenantId],
  );
  // Ordinary users: PER_USER items each, spread over the catalogue; heavy users: HEAVY distinct items each.
  await owner.query(
    `INSERT INTO interactions (tenant_id, user_id, item_id, kind)
     SELECT $1::uuid, u.id, it.id, CASE WHEN k % 3 = 0 THEN 'DISLIKE' ELSE 'LIKE' END
       FROM generate_series(0, ${USERS - 1}) g CROSS JOIN generate_series(0, ${PER_USER - 1}) k
       JOIN users u ON u.tenant_id = $1 AND u.external_id = 'user-' || g
       JOIN items it ON it.tenant_id = $1 AND it.external_id = 'item-' || ((g::bigint * 7919 + k::bigint * 104729) % ${ITEMS})`,
    [tenantId],
  );
  await owner.query(
    `INSERT INTO interactions (tenant_id, user_id, item_id, kind)
     SELECT $1::uuid, u.id, it.id, CASE WHEN k % 2 = 0 THEN 'DISLIKE' ELSE 'LIKE' END
       FROM generate_series(0, ${RUNS - 1}) r CROSS JOIN generate_series(0, ${HEAVY - 1}) k
       JOIN users u ON u.tenant_id = $1 AND u.external_id = 'heavy-' || r
       JOIN items it ON it.tenant_id = $1 AND it.external_id = 'item-' || ((r::bigint * ${HEAVY} + k) % ${ITEMS})`,
    [tenantId],
  );
  await owner.query(
    `INSERT INTO interaction_states (tenant_id, user_id, item_id, kind, interaction_id)
     SELECT DISTINCT ON (user_id, item_id) tenant_id, user_id, item_id, kind, id FROM interactions WHERE tenant_id = $1
      ORDER BY user_id, item_id, id DESC`,
    [tenantId],
  );
  await owner.query('ANALYZE');
  const {
    rows: [counts],
  } = await owner.query<{ interactions: number }>('SELECT count(*)::int AS interactions FROM interactions WHERE tenant_id = $1', [tenantId]);
  return counts.interactions;
}

async function main() {
  const scratch = await createScratchDatabase(values.server, 'lifecycle');
  const owner = new pg.Client({ connectionString: scratch.adminUrl });
  await owner.connect();
  const sampler = new pg.Client({ connectionString: scratch.adminUrl, application_name: 'bench-lock-sampler' });
  await sampler.connect();
  let api: Awaited<ReturnType<typeof startApiProcess>> | undefined;
  try {
    const { tenant, keys } = await createTenant(scratch.adminUrl, { name: 'bench', slug: 'bench', embeddingDim: DIM, keyRoles: ['app'] });
    const loadStarted = performance.now();
    const interactions = await load(owner, tenant.id);
    process.stderr.write(
      `loaded ${ITEMS} items, ${USERS + RUNS} users, ${interactions} interactions in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s\n`,
    );
    api = await startApiProcess({ DATABASE_URL: scratch.appUrl, DATABASE_ADMIN_URL: scratch.adminUrl, DATABASE_POOL_SIZE: '10' });
    const url = api.url;
    const call = async (query: string, variables: object) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${keys[0].key}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = await response.json();
      if (body.errors) throw new Error(JSON.stringify(body.errors).slice(0, 300));
      return body.data;
    };

    // The ingest load: each client sends batches of likes for its own users, on upper-half items.
    const requests: Request[] = [];
    let loading = true;
    let sent = 0;
    const clients = Array.from({ length: CLIENTS }, async (_, c) => {
      while (loading) {
        const n = sent++;
        const events = Array.from({ length: BATCH }, (_, i) => ({
          userId: `load-${c}-${(n * BATCH + i) % 500}`,
          itemId: `item-${DELETABLE + (((n * BATCH + i) * 7919) % (ITEMS - DELETABLE))}`,
          kind: i % 4 ? 'LIKE' : 'DISLIKE',
        }));
        const start = performance.now();
        const ok = await call('mutation($e: [InteractionInput!]!) { recordInteractions(events: $e) { count } }', { e: events }).then(
          () => true,
          (error) => {
            process.stderr.write(`concurrent write failed: ${(error as Error).message}\n`);
            return false;
          },
        );
        requests.push({ start, end: performance.now(), ok });
      }
    });

    // The longest lock wait of any session, sampled.
    const waits: { at: number; waitMs: number }[] = [];
    let sampling = true;
    const sampling$ = (async () => {
      while (sampling) {
        const { rows } = await sampler.query<{ waitMs: number | null }>(
          `SELECT extract(epoch FROM max(clock_timestamp() - waitstart)) * 1000 AS "waitMs" FROM pg_locks WHERE NOT granted AND waitstart IS NOT NULL`,
        );
        if (rows[0].waitMs !== null) waits.push({ at: performance.now(), waitMs: Number(rows[0].waitMs) });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const during = (from: number, to: number) => requests.filter((r) => r.end >= from && r.start <= to);
    const lockWait = (from: number, to: number) => Math.max(0, ...waits.filter((w) => w.at >= from && w.at <= to + 50).map((w) => w.waitMs));
    const pause = (t: number) => new Promise((r) => setTimeout(r, t));

    await pause(2000); // warm-up
    const baselineFrom = performance.now();
    await pause(BASELINE_MS);
    const baseline = during(baselineFrom, performance.now());

    const erase: { ms: number; removed: number; window: Request[]; lock: number }[] = [];
    const deletion: { ms: number; calls: number[]; removed: number; window: Request[]; lock: number }[] = [];
    for (let run = 0; run < RUNS; run++) {
      const from = performance.now();
      const result = (await call('mutation($u: ID!) { deleteUser(userId: $u) { erased removed { interactions } } }', { u: `heavy-${run}` })).deleteUser;
      const to = performance.now();
      erase.push({ ms: to - from, removed: result.removed.interactions, window: during(from, to), lock: lockWait(from, to) });
      await pause(1000);

      const ids = Array.from({ length: DELETE }, (_, k) => `item-${run * DELETE + k}`);
      const calls: number[] = [];
      let removed = 0;
      const dFrom = performance.now();
      for (let k = 0; k < ids.length; k += 1000) {
        const t = performance.now();
        removed += (await call('mutation($ids: [ID!]!) { deleteItems(ids: $ids) { interactions } }', { ids: ids.slice(k, k + 1000) })).deleteItems.interactions;
        calls.push(performance.now() - t);
      }
      const dTo = performance.now();
      deletion.push({ ms: dTo - dFrom, calls, removed, window: during(dFrom, dTo), lock: lockWait(dFrom, dTo) });
      await pause(1000);
      process.stderr.write(`run ${run + 1} of ${RUNS} done\n`);
    }
    loading = false;
    await Promise.all(clients);
    sampling = false;
    await sampling$;

    const latencies = (rs: Request[]) => rs.map((r) => r.end - r.start);
    const failed = (rs: Request[]) => rs.filter((r) => !r.ok).length;
    const eraseWindow = erase.flatMap((e) => e.window);
    const deleteWindow = deletion.flatMap((d) => d.window);
    console.log(`\nData lifecycle under ingest load: ${CLIENTS} clients each sending recordInteractions of ${BATCH} likes back to back; ${RUNS} runs`);
    console.log(
      `tenant: ${ITEMS.toLocaleString('en-US')} items, ${(USERS + RUNS).toLocaleString('en-US')} users, ${interactions.toLocaleString('en-US')} interactions; machine: ${cpus().length} x ${cpus()[0].model}; PostgreSQL at ${new URL(values.server).host}; API in a separate Node process (NODE_ENV=production)\n`,
    );
    console.log(
      '| operation | time, median (runs) | rows removed per run | concurrent writes | write p50 ms | write p99 ms | write max ms | failed | longest lock wait seen, ms |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    const b = latencies(baseline);
    console.log(
      `| none (baseline, ${BASELINE_MS / 1000} s) | - | - | ${b.length} | ${ms(median(b))} | ${ms(percentile(b, 99))} | ${ms(Math.max(...b))} | ${failed(baseline)} | ${ms(lockWait(baselineFrom, baselineFrom + BASELINE_MS))} |`,
    );
    const e = latencies(eraseWindow);
    console.log(
      `| deleteUser, ${HEAVY.toLocaleString('en-US')} interactions | ${ms(median(erase.map((x) => x.ms)))} ms (${erase.map((x) => ms(x.ms)).join(', ')}) | ${erase.map((x) => x.removed).join(', ')} interactions | ${e.length} | ${ms(median(e))} | ${ms(percentile(e, 99))} | ${ms(Math.max(...e))} | ${failed(eraseWindow)} | ${ms(Math.max(...erase.map((x) => x.lock)))} |`,
    );
    const d = latencies(deleteWindow);
    console.log(
      `| deleteItems, ${DELETE.toLocaleString('en-US')} items in calls of 1,000 | ${ms(median(deletion.map((x) => x.ms)))} ms (${deletion.map((x) => ms(x.ms)).join(', ')}); per call median ${ms(median(deletion.flatMap((x) => x.calls)))}, max ${ms(Math.max(...deletion.flatMap((x) => x.calls)))} ms | ${deletion.map((x) => x.removed).join(', ')} interactions | ${d.length} | ${ms(median(d))} | ${ms(percentile(d, 99))} | ${ms(Math.max(...d))} | ${failed(deleteWindow)} | ${ms(Math.max(...deletion.map((x) => x.lock)))} |`,
    );
    console.log(
      `\nconcurrent writes: the recordInteractions calls that overlapped the operation; lock wait: max(now() - pg_locks.waitstart) over ungranted locks, sampled every 5 ms (0: none seen)`,
    );
    console.log(
      `command: npm run bench:lifecycle -- --runs ${RUNS} --items ${ITEMS} --users ${USERS} --per-user ${PER_USER} --heavy ${HEAVY} --delete ${DELETE} --clients ${CLIENTS} --batch ${BATCH} --baseline-seconds ${BASELINE_MS / 1000}`,
    );
  } finally {
    api?.child.kill('SIGTERM');
    await sampler.end();
    await owner.end();
    await new Promise((r) => setTimeout(r, 300));
    await scratch.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
