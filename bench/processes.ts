// What the benchmarks share: a scratch database on the server, and API processes started as
// deployed (NODE_ENV=production turns off graphql-js's development-only checks).
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../src/repositories/migrator.js';
import { startProcess } from '../test/helpers/processes.js';

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
  const started = await startProcess('api', { NODE_ENV: 'production', RATE_LIMIT_KEY_PER_SECOND: '0', RATE_LIMIT_TENANT_PER_SECOND: '0', ...env }, { nodeArgs });
  started.child.stderr!.pipe(process.stderr);
  return { url: started.url, child: started.child };
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
