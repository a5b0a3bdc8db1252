// npm run bench:due-checks [-- --tenants 20 --per-tenant 250000 --runs 5 --insert-rows 100000]
// The jobs' two checks for due tenants, on a database of `tenants` x `per-tenant` interactions
// where every tenant was trained and grouped after its last interaction (the costliest case:
// nothing is due, so every tenant's check must come up empty): the nightly training fan-out
// (app_tenants_due_for_training) and the hourly taste groups (app_tenants_due_for_taste_groups).
// Each is timed with the index interactions_tenant_created_idx and without it (dropped inside a
// transaction that is rolled back), alternating, and so is what the index costs a write: a batch
// of `insert-rows` interactions inserted, interleaved across tenants as ingest writes them, and
// rolled back. Medians over `runs`.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createScratchDatabase, SERVER_OPTION } from './processes.js';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '20' },
    'per-tenant': { type: 'string', default: '250000' },
    runs: { type: 'string', default: '5' },
    'insert-rows': { type: 'string', default: '100000' },
    server: SERVER_OPTION,
  },
});
const TENANTS = Number(values.tenants);
const PER_TENANT = Number(values['per-tenant']);
const RUNS = Number(values.runs);
const INSERT_ROWS = Number(values['insert-rows']);
const INDEX = 'interactions_tenant_created_idx';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function seed(owner: pg.Client): Promise<void> {
  await owner.query(`INSERT INTO tenants (name, slug, embedding_dim) SELECT 'Bench ' || g, 'bench-' || g, 4 FROM generate_series(1, ${TENANTS}) g`);
  await owner.query(`INSERT INTO users (tenant_id, external_id) SELECT t.id, 'user-' || g FROM tenants t, generate_series(0, 999) g`);
  await owner.query(
    `INSERT INTO items (tenant_id, external_id, embedding) SELECT t.id, 'item-' || g, decode(repeat('3f', 16), 'hex') FROM tenants t, generate_series(0, 99) g`,
  );
  // Interleaved across tenants, as ingest writes them.
  await owner.query(`
    WITH firsts AS (
      SELECT t.id, (SELECT min(u.id) FROM users u WHERE u.tenant_id = t.id) AS u0, (SELECT min(i.id) FROM items i WHERE i.tenant_id = t.id) AS i0, row_number() OVER (ORDER BY t.id) AS n
        FROM tenants t)
    INSERT INTO interactions (tenant_id, user_id, item_id, kind)
    SELECT f.id, f.u0 + (g % 1000), f.i0 + ((g + f.n) % 100), CASE WHEN g % 2 = 0 THEN 'LIKE' ELSE 'DISLIKE' END
      FROM generate_series(1, ${PER_TENANT}) g, firsts f ORDER BY g, f.n`);
  // Every tenant trained through its last interaction and grouped after it: nothing is due.
  await owner.query(`
    INSERT INTO training_runs (tenant_id, trigger, status, data_watermark, finished_at)
    SELECT t.id, 'SCHEDULE', 'SUCCEEDED', (SELECT max(i.id) FROM interactions i WHERE i.tenant_id = t.id), now() FROM tenants t`);
  await owner.query(`
    INSERT INTO taste_group_snapshots (tenant_id, model, trigger, k, k_source, users, silhouette, davies_bouldin, calinski_harabasz, details)
    SELECT t.id, 'base-1', 'SCHEDULE', 2, 'SILHOUETTE', 1000, 0.5, 1, 1, '{}' FROM tenants t`);
  await owner.query('VACUUM ANALYZE');
}

/** Runs `work` in a transaction that is rolled back, with the index or without it; returns its milliseconds. */
async function timed(owner: pg.Client, withIndex: boolean, work: () => Promise<unknown>): Promise<number> {
  await owner.query('BEGIN');
  try {
    if (!withIndex) await owner.query(`DROP INDEX ${INDEX}`);
    const start = performance.now();
    await work();
    return performance.now() - start;
  } finally {
    await owner.query('ROLLBACK');
  }
}

async function main() {
  const scratch = await createScratchDatabase(values.server, 'due');
  const owner = new pg.Client({ connectionString: scratch.adminUrl });
  await owner.connect();
  try {
    const loadStart = performance.now();
    await seed(owner);
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const checks = {
      training: () => owner.query('SELECT count(*) FROM app_tenants_due_for_training()'),
      'taste groups': () => owner.query('SELECT count(*) FROM app_tenants_due_for_taste_groups()'),
      [`insert ${INSERT_ROWS.toLocaleString('en')} rows`]: () =>
        owner.query(`
          INSERT INTO interactions (tenant_id, user_id, item_id, kind)
          SELECT i.tenant_id, i.user_id, i.item_id, i.kind FROM interactions i ORDER BY i.id DESC LIMIT ${INSERT_ROWS}`),
    };
    const times = new Map<string, { with: number[]; without: number[] }>(Object.keys(checks).map((k) => [k, { with: [], without: [] }]));
    for (let run = 0; run < RUNS; run++) {
      // Alternate which goes first, so neither always finds the cache the other warmed.
      for (const withIndex of run % 2 === 0 ? [true, false] : [false, true]) {
        for (const [name, work] of Object.entries(checks)) times.get(name)![withIndex ? 'with' : 'without'].push(await timed(owner, withIndex, work));
      }
    }
    const { rows } = await owner.query<{ due: number }>('SELECT count(*)::int AS due FROM app_tenants_due_for_taste_groups()');
    console.log(
      `\n${TENANTS} tenants x ${PER_TENANT.toLocaleString('en')} interactions (loaded in ${loadSeconds.toFixed(0)} s), nothing due (${rows[0].due} found); medians of ${RUNS} runs\n`,
    );
    console.log(`| what | with ${INDEX}, ms | without it, ms | without / with | runs with (ms) | runs without (ms) |`);
    console.log('|---|---|---|---|---|---|');
    for (const [name, t] of times) {
      const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
      console.log(
        `| ${name} | ${median(t.with).toFixed(1)} | ${median(t.without).toFixed(1)} | ${(median(t.without) / median(t.with)).toFixed(2)} | ${fmt(t.with)} | ${fmt(t.without)} |`,
      );
    }
    console.log(`\ncommand: npm run bench:due-checks -- --tenants ${TENANTS} --per-tenant ${PER_TENANT} --runs ${RUNS} --insert-rows ${INSERT_ROWS}`);
  } finally {
    await owner.end();
    await scratch.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
