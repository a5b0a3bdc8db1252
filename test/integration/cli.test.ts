// The operator commands, run as a newcomer would: separate processes, configured by environment.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_URL } from '../helpers/database.js';

const run = promisify(execFile);
const TSX = ['--import', 'tsx'];

async function cli(script: string, args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await run(process.execPath, [...TSX, `src/apps/${script}.ts`, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('operator commands', () => {
  const name = `tg_test_cli_${process.pid}`;
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  const adminUrl = url.toString();

  beforeAll(async () => {
    const c = new pg.Client({ connectionString: SERVER_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
  });
  afterAll(async () => {
    const c = new pg.Client({ connectionString: SERVER_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });

  it('db:migrate applies the migrations once, then reports the database up to date', async () => {
    const first = await cli('migrate', [], { DATABASE_ADMIN_URL: adminUrl });
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/applied \d{14}_init/);
    const second = await cli('migrate', [], { DATABASE_ADMIN_URL: adminUrl });
    expect(second.stdout).toMatch(/already up to date/);
  });

  it('tenant:create prints an admin key once; bad arguments are named', async () => {
    const ok = await cli('tenant-create', ['--name', 'Acme Images', '--dim', '512'], { DATABASE_ADMIN_URL: adminUrl });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/created tenant "acme-images" .*embedding dimension 512/);
    expect(ok.stdout).toMatch(/admin key \(shown once; store it now\): tg_[0-9a-f]{8}_[A-Za-z0-9_-]{43}/);

    const again = await cli('tenant-create', ['--name', 'Acme Images', '--dim', '512'], { DATABASE_ADMIN_URL: adminUrl });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/slug: a tenant "acme-images" already exists/);
    const badDim = await cli('tenant-create', ['--name', 'X', '--dim', 'big'], { DATABASE_ADMIN_URL: adminUrl });
    expect(badDim.stderr).toMatch(/dim: expected an integer from 1 to 4096, got NaN/);
    const missing = await cli('tenant-create', ['--name', 'X'], { DATABASE_ADMIN_URL: adminUrl });
    expect(missing.stderr).toMatch(/usage: npm run tenant:create/);
  });

  it('the API stops within seconds on SIGTERM', async () => {
    const appUrl = new URL(adminUrl);
    appUrl.username = 'tastegraph_app';
    const child = spawn(process.execPath, [...TSX, 'src/apps/api.ts'], {
      // As deployed: under vitest's NODE_ENV=test, Apollo would skip the signal handling at fault.
      env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: appUrl.toString(), PORT: '0', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => String(chunk).includes('ready at') && resolve());
      child.once('exit', (code) => reject(new Error(`API exited early with ${code}`)));
    });
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
    if (code === 'hung') child.kill('SIGKILL');
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a bad variable is named at start', async () => {
    const bad = await cli('api', [], { DATABASE_URL: 'mysql://nope', PORT: '1' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/configuration error: DATABASE_URL: expected a postgres:\/\/ URL/);
  });
});
