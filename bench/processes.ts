// What the benchmarks share: a scratch database on the server, and API processes started as
// deployed (NODE_ENV=production turns off graphql-js's development-only checks).
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';

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
export function startApiProcess(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const nodeArgs = process.env.BENCH_API_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/apps/api.ts'], {
    // The per-key and per-tenant rates are off: a benchmark measures what an instance can do
    // (the per-tenant gate stays on, as deployed; TENANT_MAX_IN_FLIGHT=0 in env turns it off).
    env: { ...process.env, NODE_ENV: 'production', PORT: '0', LOG_LEVEL: 'warn', RATE_LIMIT_KEY_PER_SECOND: '0', RATE_LIMIT_TENANT_PER_SECOND: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /ready at (http:\/\/\S+)/.exec(out);
      if (match) resolve({ url: match[1], child });
    });
    child.once('exit', (code) => reject(new Error(`API exited with ${code} before it was ready:\n${out}`)));
  });
}
