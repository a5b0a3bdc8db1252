// What schema.prisma says the database is, and what the migrations made it, in one shape, so
// that a test can compare them (Prisma's own `migrate diff` needs a schema engine binary that
// cannot be downloaded on these machines; the DMMF comes from Prisma's WebAssembly build).
import { readFileSync } from 'node:fs';
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import pg from 'pg';

export interface Shape {
  /** table → column → "type null|not null" */
  columns: Record<string, Record<string, string>>;
  /** "table(cols) -> table(cols) on delete X on update Y" */
  foreignKeys: string[];
  /** "table unique|index|primary (cols)" */
  indexes: string[];
}

interface DmmfField {
  name: string;
  dbName: string | null;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  type: string;
  nativeType: [string, string[]] | null;
  isRequired: boolean;
  isList: boolean;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string | null;
  relationOnUpdate?: string | null;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  fields: { name: string; sortOrder?: string }[];
}

const SCALAR: Record<string, string> = {
  String: 'text',
  Int: 'int4',
  BigInt: 'int8',
  Float: 'float8',
  Boolean: 'bool',
  DateTime: 'timestamp',
  Bytes: 'bytea',
  Json: 'jsonb',
};
const NATIVE: Record<string, string> = { Uuid: 'uuid', Real: 'float4', Timestamptz: 'timestamptz', Text: 'text', SmallInt: 'int2', DoublePrecision: 'float8' };
const ACTIONS: Record<string, string> = { a: 'NoAction', r: 'Restrict', c: 'Cascade', n: 'SetNull', d: 'SetDefault' };

export function shapeOfPrismaSchema(path = 'prisma/schema.prisma'): Shape {
  const dmmf = JSON.parse(get_dmmf(JSON.stringify({ prismaSchema: readFileSync(path, 'utf8') }))) as {
    datamodel: { models: DmmfModel[]; enums: { name: string; dbName: string | null }[]; indexes: DmmfIndex[] };
  };
  const models = new Map(dmmf.datamodel.models.map((m) => [m.name, m]));
  const enums = new Map(dmmf.datamodel.enums.map((e) => [e.name, e.dbName ?? e.name]));
  const table = (model: string) => models.get(model)!.dbName ?? model;
  const column = (model: string, field: string) => {
    const f = models.get(model)!.fields.find((x) => x.name === field)!;
    return f.dbName ?? f.name;
  };
  const shape: Shape = { columns: {}, foreignKeys: [], indexes: [] };
  for (const m of models.values()) {
    const cols: Record<string, string> = {};
    for (const f of m.fields) {
      if (f.kind === 'object') {
        if (!f.relationFromFields?.length) continue;
        const from = f.relationFromFields.map((x) => column(m.name, x));
        const to = f.relationToFields!.map((x) => column(f.type, x));
        // Prisma's defaults when the schema names no action: Restrict (SetNull for an optional relation) on delete, Cascade on update.
        const onDelete = f.relationOnDelete ?? (f.isRequired ? 'Restrict' : 'SetNull');
        const onUpdate = f.relationOnUpdate ?? 'Cascade';
        shape.foreignKeys.push(`${table(m.name)}(${from.join()}) -> ${table(f.type)}(${to.join()}) on delete ${onDelete} on update ${onUpdate}`);
        continue;
      }
      const base = f.kind === 'enum' ? enums.get(f.type)! : f.nativeType ? NATIVE[f.nativeType[0]] : SCALAR[f.type];
      cols[f.dbName ?? f.name] = `${f.isList ? `_${base}` : base} ${f.isRequired || f.isList ? 'not null' : 'null'}`;
    }
    shape.columns[table(m.name)] = cols;
  }
  for (const index of dmmf.datamodel.indexes) {
    const kind = index.type === 'id' ? 'primary' : index.type === 'unique' ? 'unique' : 'index';
    const cols = index.fields.map((f) => `${column(index.model, f.name)}${f.sortOrder === 'desc' ? ' desc' : ''}`);
    shape.indexes.push(`${table(index.model)} ${kind} (${cols.join(', ')})`);
  }
  shape.foreignKeys.sort();
  shape.indexes.sort();
  return shape;
}

/** The same shape read from the catalog of a migrated database (public schema, without Prisma's own table). */
export async function shapeOfDatabase(url: string): Promise<Shape & { unmodelledIndexes: string[] }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const shape: Shape & { unmodelledIndexes: string[] } = { columns: {}, foreignKeys: [], indexes: [], unmodelledIndexes: [] };
    const columns = await client.query<{ table_name: string; column_name: string; udt_name: string; is_nullable: string }>(
      `SELECT c.table_name, c.column_name, c.udt_name, c.is_nullable FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
        WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.table_name <> '_prisma_migrations'`,
    );
    for (const c of columns.rows) (shape.columns[c.table_name] ??= {})[c.column_name] = `${c.udt_name} ${c.is_nullable === 'YES' ? 'null' : 'not null'}`;
    const fks = await client.query<{ src: string; cols: string[]; dst: string; refs: string[]; del: string; upd: string }>(
      `SELECT c.conrelid::regclass::text AS src, c.confrelid::regclass::text AS dst, c.confdeltype AS del, c.confupdtype AS upd,
              ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i)::text[] AS cols,
              ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)::text[] AS refs
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = 'public'`,
    );
    for (const f of fks.rows)
      shape.foreignKeys.push(`${f.src}(${f.cols.join()}) -> ${f.dst}(${f.refs.join()}) on delete ${ACTIONS[f.del]} on update ${ACTIONS[f.upd]}`);
    const indexes = await client.query<{
      tbl: string;
      name: string;
      primary: boolean;
      unique: boolean;
      def: string;
      cols: string[] | null;
      partial: boolean;
      included: number;
    }>(
      `SELECT t.relname AS tbl, ic.relname AS name, i.indisprimary AS primary, i.indisunique AS unique, pg_get_indexdef(i.indexrelid) AS def,
              i.indpred IS NOT NULL AS partial, i.indnatts - i.indnkeyatts AS included,
              CASE WHEN 0 = ANY (i.indkey::int2[]) THEN NULL ELSE
                ARRAY(SELECT a.attname || CASE WHEN (i.indoption[k.i - 1] & 1) = 1 THEN ' desc' ELSE '' END
                        FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
                       WHERE k.i <= i.indnkeyatts ORDER BY k.i)::text[] END AS cols
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'`,
    );
    for (const x of indexes.rows) {
      // Prisma's schema language cannot state an expression or a predicate (WHERE): such an
      // index is listed apart. Of an index with INCLUDE columns it states the key columns.
      if (x.cols === null || x.partial) {
        shape.unmodelledIndexes.push(`${x.name}: ${x.def}`);
        continue;
      }
      if (x.included > 0) shape.unmodelledIndexes.push(`${x.name}: INCLUDE columns`);
      shape.indexes.push(`${x.tbl} ${x.primary ? 'primary' : x.unique ? 'unique' : 'index'} (${x.cols.join(', ')})`);
    }
    shape.foreignKeys.sort();
    shape.indexes.sort();
    shape.unmodelledIndexes.sort();
    return shape;
  } finally {
    await client.end();
  }
}
