import { createHash } from 'node:crypto';
import { cp, mkdtemp, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS_DIR, readMigrations } from '../../src/repositories/migrator.js';
import { createTestDatabase, queryAsOwner, type TestDatabase } from '../helpers/database.js';

describe('migrator (real PostgreSQL)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('migrator');
  });
  afterAll(() => db?.drop());

  it('records each migration the way Prisma does: name, SHA-256 checksum, finished', async () => {
    const migrations = await readMigrations();
    const rows = await queryAsOwner<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number }>(
      db.adminUrl,
      'SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
    );
    expect(rows.map((r) => r.migration_name)).toEqual(migrations.map((m) => m.name));
    for (const [i, m] of migrations.entries()) {
      expect(rows[i].checksum).toBe(createHash('sha256').update(m.sql).digest('hex'));
      expect(rows[i].finished_at).toBeInstanceOf(Date);
    }
  });

  it('is a no-op when run again', async () => {
    expect(await migrate(db.adminUrl)).toEqual([]);
  });

  it('refuses to go on when an applied migration was edited', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tg-migrations-'));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const [first] = await readMigrations(dir);
    await appendFile(join(dir, first.name, 'migration.sql'), '\n-- edited\n');
    await expect(migrate(db.adminUrl, dir)).rejects.toThrow(/was edited after it was applied/);
  });
});
