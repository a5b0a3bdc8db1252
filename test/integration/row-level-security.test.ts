import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/apps/wiring/database.js';
import { checkRowSecurityApplies, createDatabase, type Database, type Sql } from '../../src/repositories/database.js';
import { createServices } from '../../src/apps/wiring/services.js';
import { createTestDatabase, queryAsOwner, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeEvents, makeItems, type TestTenant } from '../helpers/factories.js';

const TABLES = ['tenants', 'api_keys', 'users', 'items', 'interactions'];

describe('row-level security (real PostgreSQL, as tastegraph_app)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    testDb = await createTestDatabase('rls');
    db = createDatabase({ connectionString: testDb.appUrl, poolSize: 2 });
    const services = createServices(db);
    a = await createTestTenant(testDb.adminUrl);
    b = await createTestTenant(testDb.adminUrl);
    for (const t of [a, b]) {
      await services.items.upsert(t.app, makeItems(5, t.dim));
      await services.interactions.record(t.app, makeEvents(10, { items: 5 }));
    }
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('the API role cannot bypass row-level security', async () => {
    const check = await checkRowSecurityApplies(testDb.appUrl);
    expect(check).toEqual({ user: 'tastegraph_app', bypassesRowSecurity: false, reason: undefined });
    const owner = await checkRowSecurityApplies(testDb.adminUrl);
    expect(owner.bypassesRowSecurity).toBe(true);
  });

  it('a session with no tenant set sees no rows in any tenant table', async () => {
    const client = new pg.Client({ connectionString: testDb.appUrl });
    await client.connect();
    try {
      for (const table of TABLES) {
        const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
        expect(rows[0].n, table).toBe(0);
      }
    } finally {
      await client.end();
    }
    const seen = await db.withoutTenant(async (sql) => (await sql.query('SELECT count(*)::int AS n FROM items')).rows[0].n);
    expect(seen).toBe(0);
  });

  it("a tenant's transaction sees only that tenant's rows", async () => {
    for (const t of [a, b]) {
      const counts = await db.withTenant(t.id, async (sql) => {
        const out: Record<string, number> = {};
        for (const table of TABLES) out[table] = (await sql.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
        const foreign = await sql.query(`SELECT count(*)::int AS n FROM items WHERE tenant_id <> $1`, [t.id]);
        out.foreign = foreign.rows[0].n;
        return out;
      });
      expect(counts).toEqual({ tenants: 1, api_keys: 2, users: 10, items: 5, interactions: 10, foreign: 0 });
    }
  });

  it('cannot write a row into another tenant, even by naming its id', async () => {
    await expect(db.withTenant(a.id, (sql) => sql.query(`INSERT INTO users (tenant_id, external_id) VALUES ($1, 'intruder')`, [b.id]))).rejects.toThrow(
      /row-level security/,
    );
    const updated = await db.withTenant(a.id, (sql) => sql.query(`UPDATE items SET prompt = 'x' WHERE tenant_id = $1`, [b.id]));
    expect(updated.rowCount).toBe(0);
  });

  it('every table with a tenant column, found from the catalog, has row-level security and its policy', async () => {
    const tables = await queryAsOwner<{ name: string; secured: boolean; policy: boolean }>(
      testDb.adminUrl,
      `SELECT c.relname AS name, c.relrowsecurity AS secured,
              EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation') AS policy
         FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname IN ('tenant_id')
        WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace ORDER BY 1`,
    );
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['api_keys', 'interactions', 'items', 'model_versions', 'training_runs', 'users']));
    for (const t of tables) expect(t, t.name).toMatchObject({ secured: true, policy: true });
  });

  it('the model registry: a tenant sees and writes only its own versions and runs; one serves, one runs at a time', async () => {
    const version = (t: TestTenant, n: number, status: string) =>
      db.withTenant(t.id, (sql) =>
        sql.query(`INSERT INTO model_versions (tenant_id, version, status, embedding_dim) VALUES ($1, $2, $3, 4)`, [t.id, n, status]),
      );
    await version(a, 1, 'PROMOTED');
    await version(b, 1, 'CANDIDATE');
    await expect(version(a, 2, 'PROMOTED')).rejects.toThrow(/model_versions_one_promoted/);
    await expect(
      db.withTenant(a.id, (sql) => sql.query(`INSERT INTO model_versions (tenant_id, version, status, embedding_dim) VALUES ($1, 9, 'CANDIDATE', 4)`, [b.id])),
    ).rejects.toThrow(/row-level security/);
    const seen = await db.withTenant(b.id, async (sql) => (await sql.query(`SELECT tenant_id, status FROM model_versions`)).rows);
    expect(seen).toEqual([{ tenant_id: b.id, status: 'CANDIDATE' }]);
    const run = () => db.withTenant(a.id, (sql) => sql.query(`INSERT INTO training_runs (tenant_id, trigger) VALUES ($1, 'MANUAL')`, [a.id]));
    await run();
    await expect(run()).rejects.toThrow(/training_runs_one_active/);
    expect(await db.withTenant(b.id, async (sql) => (await sql.query(`SELECT count(*)::int AS n FROM training_runs`)).rows[0].n)).toBe(0);
    await expect(db.withTenant(a.id, (sql) => sql.query(`UPDATE training_runs SET status = 'FAILED' WHERE tenant_id = $1`, [a.id]))).rejects.toThrow(
      /training_runs_check/,
    );
  });

  it('the API refuses to start on a connection that bypasses row-level security', async () => {
    const config = loadConfig({ DATABASE_URL: testDb.adminUrl });
    await expect(openDatabase(config)).rejects.toThrow(/connects as "postgres", which is a superuser and so bypasses row-level security/);
  });
});

describe('transactions that nest (Database.withTenant joins an enclosing one for the same tenant)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let a: TestTenant;
  let b: TestTenant;
  const txid = (sql: Sql) => sql.query('SELECT txid_current()::text AS id').then((r) => r.rows[0].id as string);
  const itemCount = (sql: Sql) => sql.query('SELECT count(*)::int AS n FROM items').then((r) => r.rows[0].n as number);

  beforeAll(async () => {
    testDb = await createTestDatabase('nesting');
    db = createDatabase({ connectionString: testDb.appUrl, poolSize: 4 });
    const services = createServices(db);
    a = await createTestTenant(testDb.adminUrl);
    b = await createTestTenant(testDb.adminUrl);
    await services.items.upsert(a.app, makeItems(3, a.dim));
    await services.items.upsert(b.app, makeItems(5, b.dim));
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('a nested call for the same tenant runs in the enclosing transaction', async () => {
    const [outer, inner] = await db.withTenant(a.id, async (sql) => [await txid(sql), await db.withTenant(a.id, txid)]);
    expect(inner).toBe(outer);
  });

  it("a nested call for another tenant gets its own transaction and sees only that tenant's rows", async () => {
    const seen = await db.withTenant(a.id, async (sql) => {
      const outer = { tx: await txid(sql), items: await itemCount(sql) };
      const inner = await db.withTenant(b.id, async (other) => ({ tx: await txid(other), items: await itemCount(other) }));
      return { outer, inner };
    });
    expect(seen.outer.items).toBe(3);
    expect(seen.inner.items).toBe(5);
    expect(seen.inner.tx).not.toBe(seen.outer.tx);
  });

  it('work started inside but run after the enclosing transaction ended opens its own', async () => {
    let ended!: () => void;
    const outerEnded = new Promise<void>((resolve) => (ended = resolve));
    let later!: Promise<{ tx: string; items: number }>;
    const outerTx = await db.withTenant(a.id, async (sql) => {
      later = outerEnded.then(() => db.withTenant(a.id, async (s) => ({ tx: await txid(s), items: await itemCount(s) })));
      return txid(sql);
    });
    ended();
    const seen = await later;
    expect(seen.tx).not.toBe(outerTx);
    expect(seen.items).toBe(3);
  });

  it('a joined call that queries after the enclosing transaction ended fails instead of using the pooled connection', async () => {
    let ended!: () => void;
    const outerEnded = new Promise<void>((resolve) => (ended = resolve));
    let late!: Promise<unknown>;
    await db.withTenant(a.id, async () => {
      late = db.withTenant(a.id, async (sql) => {
        await outerEnded;
        return sql.query('SELECT 1');
      });
      late.catch(() => {}); // asserted below
    });
    ended();
    await expect(late).rejects.toThrow('query after the enclosing transaction ended');
    // The pool still works, for every tenant.
    expect(await db.withTenant(b.id, itemCount)).toBe(5);
  });
});
