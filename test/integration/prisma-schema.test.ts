// prisma/schema.prisma says what the migrations make (issue 15): every table's columns (type
// and nullability), every foreign key with its actions, and every index, compared with the
// catalog of a freshly migrated database. Prisma's `migrate diff` would do this with its
// schema engine, which cannot be downloaded on these machines; the DMMF comes from Prisma's
// WebAssembly build, the same code `prisma validate` runs.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { shapeOfDatabase, shapeOfPrismaSchema } from '../helpers/prisma-drift.js';

describe('schema.prisma against the migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('prisma_drift');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('has every table and column, foreign key and index the migrations create, and nothing else', async () => {
    const prisma = shapeOfPrismaSchema();
    const database = await shapeOfDatabase(db.adminUrl);
    expect(prisma.columns).toEqual(database.columns);
    expect(prisma.foreignKeys).toEqual(database.foreignKeys);
    expect(prisma.indexes).toEqual(database.indexes);
    // What Prisma's schema language cannot say, each kept by the migrations on purpose:
    expect(database.unmodelledIndexes).toEqual([
      // the latest likes and dislikes of a user read from the index alone (scoring's history)
      'interaction_states_user_kind_recent_idx: INCLUDE columns',
      'interactions_user_kind_recent_idx: INCLUDE columns',
      // at most one promoted version, and one queued or running training run, per tenant
      expect.stringMatching(/^model_versions_one_promoted: CREATE UNIQUE INDEX .* WHERE \(status = 'PROMOTED'::text\)$/),
      expect.stringMatching(/^training_runs_one_active: CREATE UNIQUE INDEX .* WHERE \(status = ANY/),
    ]);
  });

  it("would catch drift: a relation left on Prisma's default ON UPDATE CASCADE, a column made optional", async () => {
    const source = readFileSync('prisma/schema.prisma', 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'tg-prisma-'));
    const drifted = join(dir, 'schema.prisma');
    writeFileSync(
      drifted,
      source
        .replace(
          '@relation(fields: [tenantId], references: [id], onDelete: Cascade, onUpdate: NoAction)',
          '@relation(fields: [tenantId], references: [id], onDelete: Cascade)',
        )
        .replace(/^(\s+prefix\s+)String(\s+@unique)$/m, '$1String?$2'),
    );
    const prisma = shapeOfPrismaSchema(drifted);
    const database = await shapeOfDatabase(db.adminUrl);
    expect(prisma.foreignKeys).not.toEqual(database.foreignKeys);
    expect(prisma.foreignKeys.filter((f) => !database.foreignKeys.includes(f))).toEqual([expect.stringMatching(/on update Cascade$/)]);
    expect(prisma.columns.api_keys.prefix).toBe('text null');
    expect(database.columns.api_keys.prefix).toBe('text not null');
  });
});
