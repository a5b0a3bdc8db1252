// The zero-setup path: no DATABASE_URL, an embedded PostgreSQL (PGlite) in a local folder.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type OpenedDatabase } from '../../src/apps/wiring/database.js';
import { seedDemoTenant } from '../../src/apps/wiring/demo.js';
import { createApiServer } from '../../src/graphql/server.js';
import { createServices } from '../../src/apps/wiring/services.js';
import { appArgs } from '../helpers/build.js';
import { queryAsOwner } from '../helpers/database.js';

const run = promisify(execFile);

describe('embedded PostgreSQL (PGlite)', () => {
  let dir: string;
  let database: OpenedDatabase | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tg-embedded-'));
  });
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates, migrates and seeds on first start; the API answers over HTTP under row-level security', async () => {
    const config = loadConfig({ EMBEDDED_DATA_DIR: join(dir, 'pglite') });
    database = await openDatabase(config);
    expect(database.embedded).toBe(true);
    expect(database.fresh).toBe(true);
    const services = createServices(database.db);
    const seeded = await seedDemoTenant(services, database.adminUrl, { world: { users: 12, items: 60, interactionsPerUser: 20 } });
    expect(seeded.interactions).toBe(240);

    // No tenant set: nothing visible, even though this connection is PGlite's superuser.
    const hidden = await database.db.withoutTenant(async (sql) => (await sql.query('SELECT count(*)::int AS n FROM interactions')).rows[0].n);
    expect(hidden).toBe(0);
    const visible = await database.db.withTenant(seeded.tenant.id, async (sql) => (await sql.query('SELECT count(*)::int AS n FROM interactions')).rows[0].n);
    expect(visible).toBe(240);

    const server = await createApiServer({
      services,
      log: pino({ level: 'silent' }),
      maxBodyBytes: 1 << 20,
      maxQueryDepth: 10,
      maxQueryCost: 50_000,
      documentLimits: loadConfig({}).documentLimits,
      checkReady: async () => {},
    });
    const url = await server.listen(0, '127.0.0.1');
    try {
      const adminKey = seeded.keys.find((k) => k.role === 'admin')!.key;
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ query: '{ tenant { slug counts { users items interactions events } } }' }),
      });
      expect((await response.json()).data.tenant).toEqual({ slug: 'demo', counts: { users: 12, items: 60, interactions: 209, events: 240 } });
    } finally {
      await server.stop();
    }
  });

  it('keeps its data across restarts', async () => {
    await database!.close();
    database = await openDatabase(loadConfig({ EMBEDDED_DATA_DIR: join(dir, 'pglite') }));
    expect(database.fresh).toBe(false);
    const tenants = await database.db.withoutTenant(async (sql) => (await sql.query('SELECT count(*)::int AS n FROM tenants')).rows[0].n);
    expect(tenants).toBe(0); // hidden without a tenant, as before the restart
    const [row] = await queryAsOwner<{ n: number }>(database.adminUrl, 'SELECT count(*)::int AS n FROM interactions');
    expect(row.n).toBe(240);
  });

  it('refuses a second start on the same data folder, naming the process that holds it', async () => {
    const dataDir = join(dir, 'pglite');
    await expect(openDatabase(loadConfig({ EMBEDDED_DATA_DIR: dataDir }))).rejects.toThrow(
      new RegExp(`in use by process ${process.pid} \\(another npm start\\?\\)`),
    );
    // As a newcomer meets it: a second npm start exits at once with the reason.
    const second = await run(process.execPath, appArgs('api'), { env: { ...process.env, EMBEDDED_DATA_DIR: dataDir, PORT: '0', DATABASE_URL: '' } }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/failed to start: the embedded database in .* is in use by process \d+/);
    // The first one still has its data.
    const [row] = await queryAsOwner<{ n: number }>(database!.adminUrl, 'SELECT count(*)::int AS n FROM interactions');
    expect(row.n).toBe(240);
  });

  it('takes over a lock left by a process that no longer runs', async () => {
    const other = join(dir, 'stale');
    await mkdir(other, { recursive: true });
    await writeFile(`${other}.lock`, '999999999');
    const opened = await openDatabase(loadConfig({ EMBEDDED_DATA_DIR: other, EMBEDDED_DEMO: 'false' }));
    try {
      expect(await readFile(`${other}.lock`, 'utf8')).toBe(String(process.pid));
    } finally {
      await opened.close();
    }
    await expect(readFile(`${other}.lock`, 'utf8')).rejects.toThrow(/ENOENT/);
  });
});
