// Applies prisma/migrations/<timestamp>_<name>/migration.sql in order, recording each in
// Prisma's own _prisma_migrations table with Prisma's checksum (SHA-256 of the file) under
// Prisma's advisory lock. `prisma migrate` needs a schema engine that cannot be downloaded on
// these machines; this runner leaves a database that `prisma migrate deploy/status` accepts.
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { installJobQueue } from './job-queue-schema.js';

/** The API's (and the jobs') role, created by the first migration. */
const APP_ROLE = 'tastegraph_app';

export const MIGRATIONS_DIR = new URL('../../prisma/migrations/', import.meta.url).pathname;

// The key Prisma's migrate engine locks with, so the two never run at the same time.
const PRISMA_ADVISORY_LOCK = 72707369;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory() && /^\d{14}_/.test(e.name))
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum"            VARCHAR(64) NOT NULL,
  "finished_at"         TIMESTAMPTZ,
  "migration_name"      VARCHAR(255) NOT NULL,
  "logs"                TEXT,
  "rolled_back_at"      TIMESTAMPTZ,
  "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

/** Applies every migration not yet applied; returns the names it applied. */
export async function migrate(connectionString: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
    await client.query(CREATE_TABLE);
    const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const applied = new Map(rows.map((r) => [r.migration_name, r]));
    const done: string[] = [];
    for (const migration of migrations) {
      const previous = applied.get(migration.name);
      if (previous?.finished_at) {
        if (previous.checksum !== migration.checksum) {
          throw new Error(`migration ${migration.name} was edited after it was applied (checksum differs); add a new migration instead`);
        }
        continue;
      }
      if (previous) throw new Error(`migration ${migration.name} started earlier but never finished; inspect the database, then mark it rolled back`);
      await applyOne(client, migration);
      done.push(migration.name);
    }
    // The job queue's tables come from pg-boss itself, for the version installed.
    await installJobQueue(client, APP_ROLE);
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]).catch(() => {});
    await client.end();
  }
}

async function applyOne(client: pg.Client, migration: Migration): Promise<void> {
  const id = randomUUID();
  // The migration and its record commit together: a failure leaves neither behind.
  await client.query('BEGIN');
  try {
    await client.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())', [
      id,
      migration.checksum,
      migration.name,
    ]);
    await client.query(migration.sql);
    await client.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
  }
}

/** Sets the password the API's role logs in with (roles are created without one). */
export async function setAppRolePassword(connectionString: string, role: string, password: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    // ALTER ROLE takes no parameters; escapeLiteral quotes the password safely.
    await client.query(`ALTER ROLE ${client.escapeIdentifier(role)} PASSWORD ${client.escapeLiteral(password)}`);
  } finally {
    await client.end();
  }
}

// The migration that lets the API's role read _prisma_migrations.
const MIGRATIONS_READABLE_FROM = '20261201000000_app_reads_migrations';

/**
 * The migrations this code knows that the database has not applied (as finished and not
 * rolled back), read on the API's own connection. A database never migrated lacks them all;
 * one migrated before the API's role could read the list lacks that migration and later ones.
 */
export async function pendingMigrations(connectionString: string, dir = MIGRATIONS_DIR): Promise<string[]> {
  const known = (await readMigrations(dir)).map((m) => m.name);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ migration_name: string }>(
      'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    const applied = new Set(rows.map((r) => r.migration_name));
    return known.filter((name) => !applied.has(name));
  } catch (error) {
    const code = (error as { code?: string }).code;
    // No such table: never migrated. Not readable: migrated before the migration that lets
    // the API's role read it, so that one and every later one are missing.
    if (code === '42P01') return known;
    if (code === '42501') return known.filter((name) => name >= MIGRATIONS_READABLE_FROM);
    throw error;
  } finally {
    await client.end();
  }
}
