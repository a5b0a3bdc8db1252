// The operator commands, run as a newcomer would: separate processes, configured by environment.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeInferRequest } from '../../src/inference/protocol.js';
import { userBatch } from '../../src/inference/tensors.js';
import { SERVER_URL } from '../helpers/database.js';
import { readMigrations } from '../../src/repositories/migrator.js';
import { appArgs } from '../helpers/build.js';

const run = promisify(execFile);

async function cli(script: string, args: string[], env: Record<string, string>, timeoutMs = 0) {
  try {
    const { stdout, stderr } = await run(process.execPath, [...appArgs(script), ...args], { env: { ...process.env, ...env }, timeout: timeoutMs });
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

  it('the API serves its metrics, and stops within seconds on SIGTERM', async () => {
    const appUrl = new URL(adminUrl);
    appUrl.username = 'tastegraph_app';
    const child = spawn(process.execPath, appArgs('api'), {
      // As deployed: under vitest's NODE_ENV=test, Apollo would skip the signal handling at fault.
      env: { ...process.env, NODE_ENV: 'production', DATABASE_URL: appUrl.toString(), PORT: '0', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        const m = /ready at (\S+)\/graphql/.exec(String(chunk));
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`API exited early with ${code}`)));
    });
    // As wired in the process: the feed index's memory and evictions are exported.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^tastegraph_feed_index_bytes 0$/m);
    expect(metrics).toMatch(/^tastegraph_feed_index_evictions_total 0$/m);
    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
    if (code === 'hung') child.kill('SIGKILL');
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('the worker answers the request it has queued on SIGTERM, then exits', async () => {
    const child = spawn(process.execPath, appArgs('worker'), {
      env: { ...process.env, NODE_ENV: 'production', WORKER_PORT: '0', MAX_QUEUE_DELAY_MS: '300', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        const m = /inference worker at (\S+)\/v2/.exec(String(chunk));
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
    });
    const D = 32; // the default model's
    const request = encodeInferRequest(userBatch(D, [{ vector: new Array(D).fill(0.1), like: true }], [new Array(D).fill(0.2)]));
    const queued = fetch(`${url}/v2/models/preference/infer`, {
      method: 'POST',
      headers: { 'inference-header-content-length': String(request.headerLength) },
      body: new Uint8Array(request.body),
    });
    await new Promise((r) => setTimeout(r, 100)); // in the queue: the worker waits up to 300 ms for a batch
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect((await queued).status).toBe(200);
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
    if (code === 'hung') child.kill('SIGKILL');
    expect(code).toBe(0);
  });

  it('the API refuses to start on a database that is not migrated, naming the command to run', async () => {
    const empty = `${name}_empty`;
    const c = new pg.Client({ connectionString: SERVER_URL });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${empty} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${empty}`);
      // The API's role is the cluster's, made by any migrated database; make sure it exists here.
      await c.query(`DO $$ BEGIN CREATE ROLE tastegraph_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
      const appUrl = new URL(SERVER_URL);
      appUrl.pathname = `/${empty}`;
      appUrl.username = 'tastegraph_app';
      // Bounded: the code before this change started and served errors until killed.
      const started = await cli('api', [], { DATABASE_URL: appUrl.toString(), PORT: '0' }, 20_000);
      expect(started.code).toBe(1);
      const all = (await readMigrations()).length;
      expect(started.stderr).toMatch(new RegExp(`lacks ${all} migration\\(s\\) this version needs \\(20261126000000_init, .*\\)\\. Run "npm run db:migrate"`));
    } finally {
      await c.query(`DROP DATABASE IF EXISTS ${empty} WITH (FORCE)`);
      await c.end();
    }
  });

  it('a bad variable is named at start', async () => {
    const bad = await cli('api', [], { DATABASE_URL: 'mysql://nope', PORT: '1' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/configuration error: DATABASE_URL: expected a postgres:\/\/ URL/);
  });
});
