// pg-boss's tables, installed by the migration step (as the database owner) into the schema
// "pgboss", which then belongs to tastegraph_app: the jobs run as the API's role (so the jobs
// process needs no owner's password), and pg-boss creates a table per queue, which only the
// owner of its parent table may. Its tables hold job payloads (tenant and run ids), no tenant
// data, so they need no row-level security.
import type pg from 'pg';
import PgBoss from 'pg-boss';

export const JOB_SCHEMA = 'pgboss';

export async function installJobQueue(owner: pg.ClientBase, appRole: string): Promise<void> {
  const { rows } = await owner.query<{ installed: boolean }>(`SELECT to_regclass('${JOB_SCHEMA}.version') IS NOT NULL AS installed`);
  if (!rows[0].installed) await owner.query(PgBoss.getConstructionPlans(JOB_SCHEMA));
  // Everything in the schema, then the schema itself (tables, their sequences, types, functions).
  await owner.query(`
    DO $$
    DECLARE r record;
    BEGIN
      FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = '${JOB_SCHEMA}' AND c.relkind IN ('r', 'p') LOOP
        EXECUTE format('ALTER TABLE %I.%I OWNER TO ${appRole}', '${JOB_SCHEMA}', r.relname);
      END LOOP;
      FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE n.nspname = '${JOB_SCHEMA}' AND t.typtype = 'e' LOOP
        EXECUTE format('ALTER TYPE %I.%I OWNER TO ${appRole}', '${JOB_SCHEMA}', r.typname);
      END LOOP;
      FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = '${JOB_SCHEMA}' LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO ${appRole}', r.sig);
      END LOOP;
      EXECUTE 'ALTER SCHEMA ${JOB_SCHEMA} OWNER TO ${appRole}';
    END $$`);
}
