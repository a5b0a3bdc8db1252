// What the benchmarks share: a scratch database on the server, and API processes started as
// deployed (NODE_ENV=production turns off graphql-js's development-only checks).
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../src/repositories/migrator.js';
import { startProcess } from '../test/helpers/processes.js';
import type { TasteWorld } from '../src/synth/taste-world.js';

/** The benches' `--server` option: the PostgreSQL they make scratch databases on (BENCH_DATABASE_URL, else this project's). */
export const SERVER_OPTION = { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' } as const;

export function databaseUrl(server: string, database: string, user?: string): string {
  const u = new URL(server);
  u.pathname = `/${database}`;
  if (user) u.username = user;
  return u.toString();
}

export async function runOnServer(server: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Starts src/apps/api.ts with the given environment; resolves with its GraphQL URL once it is ready.
 * BENCH_API_NODE_ARGS adds Node options to the API processes (for example
 * `--cpu-prof --cpu-prof-dir=/tmp/profiles`, which Node refuses in NODE_OPTIONS).
 */
export async function startApiProcess(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const nodeArgs = process.env.BENCH_API_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  // The per-key and per-tenant rates are off: a benchmark measures what an instance can do
  // (the per-tenant gate stays on, as deployed; TENANT_MAX_IN_FLIGHT=0 in env turns it off).
  const started = await startProcess(
    'api',
    { NODE_ENV: 'production', RATE_LIMIT_KEY_PER_SECOND: '0', RATE_LIMIT_TENANT_PER_SECOND: '0', ...env },
    { nodeArgs },
  );
  started.child.stderr!.pipe(process.stderr);
  return { url: started.url, child: started.child };
}

/** One GraphQL request over HTTP with an API key; its data, or the first error thrown. */
export async function gql(url: string, key: string, query: string, variables: object = {}): Promise<Record<string, unknown>> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await r.json()) as { data?: Record<string, unknown>; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(body.errors[0].message);
  return body.data!;
}

/** A migrated database of the benchmark's own on the server, dropped by drop(). */
export async function createScratchDatabase(server: string, label: string) {
  const database = `tg_bench_${label}_${randomBytes(4).toString('hex')}`;
  await runOnServer(server, `CREATE DATABASE ${database}`);
  const adminUrl = databaseUrl(server, database);
  await migrate(adminUrl);
  return {
    database,
    adminUrl,
    appUrl: databaseUrl(server, database, 'tastegraph_app'),
    drop: () => runOnServer(server, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`),
  };
}

/** Loads a world straight into the tables as the owner (loading speed is not what is measured). */
export async function loadWorld(adminUrl: string, tenantId: string, world: TasteWorld, { interactionsOnly = false } = {}) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    if (!interactionsOnly) {
      for (let i = 0; i < world.items.length; i += 2000) {
        const part = world.items.slice(i, i + 2000);
        await client.query(
          `INSERT INTO items (tenant_id, external_id, prompt, embedding) SELECT $1, unnest($2::text[]), unnest($3::text[]), unnest($4::bytea[])`,
          [tenantId, part.map((x) => x.id), part.map((x) => x.prompt), part.map((x) => Buffer.from(x.vector.buffer, x.vector.byteOffset, x.vector.byteLength))],
        );
      }
      await client.query(`INSERT INTO users (tenant_id, external_id) SELECT $1, unnest($2::text[])`, [tenantId, world.users.map((u) => u.id)]);
    }
    const events = world.interactions;
    for (let i = 0; i < events.length; i += 20_000) {
      const part = events.slice(i, i + 20_000);
      await client.query(
        `INSERT INTO interactions (tenant_id, user_id, item_id, kind, pair_id, created_at)
         SELECT $1, u.id, it.id, e.kind, e.pair, to_timestamp(e.ts)
           FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS e(usr, item, kind, pair, ts)
           JOIN users u ON u.tenant_id = $1 AND u.external_id = e.usr JOIN items it ON it.tenant_id = $1 AND it.external_id = e.item`,
        [
          tenantId,
          part.map((e) => e.user),
          part.map((e) => e.item),
          part.map((e) => (e.label ? 'LIKE' : 'DISLIKE')),
          part.map((e) => e.pair),
          part.map((e) => e.ts),
        ],
      );
    }
    // Each pair's latest event is its state, as recordInteractions leaves it.
    await client.query(
      `INSERT INTO interaction_states (tenant_id, user_id, item_id, kind, interaction_id)
       SELECT DISTINCT ON (user_id, item_id) tenant_id, user_id, item_id, kind, id FROM interactions WHERE tenant_id = $1
        ORDER BY user_id, item_id, id DESC
       ON CONFLICT (tenant_id, user_id, item_id) DO UPDATE SET kind = EXCLUDED.kind, interaction_id = EXCLUDED.interaction_id
        WHERE interaction_states.interaction_id < EXCLUDED.interaction_id`,
      [tenantId],
    );
    await client.query('ANALYZE items; ANALYZE users; ANALYZE interactions; ANALYZE interaction_states');
  } finally {
    await client.end();
  }
}
