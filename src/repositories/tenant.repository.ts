import type pg from 'pg';
import type { Database } from './database.js';

export interface TenantRow {
  id: string;
  name: string;
  slug: string;
  embeddingDim: number;
  createdAt: Date;
}

export interface TenantCounts {
  users: number;
  items: number;
  /** Likes and dislikes now: one per user and item (the latest state). */
  interactions: number;
  /** The log: every like, dislike and undo recorded. */
  events: number;
  likes: number;
  dislikes: number;
  apiKeys: number;
}

const TENANT_COLUMNS = `id, name, slug, embedding_dim AS "embeddingDim", created_at AS "createdAt"`;

export function createTenantRepository(db: Database) {
  return {
    async findById(tenantId: string): Promise<TenantRow | undefined> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<TenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE id = $1`, [tenantId]);
        return rows[0];
      });
    },

    async counts(tenantId: string): Promise<TenantCounts> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<TenantCounts>(
          `SELECT (SELECT count(*) FROM users WHERE tenant_id = $1) AS users,
                  (SELECT count(*) FROM items WHERE tenant_id = $1) AS items,
                  (SELECT count(*) FROM interaction_states WHERE tenant_id = $1) AS interactions,
                  (SELECT count(*) FROM interactions WHERE tenant_id = $1) AS events,
                  (SELECT count(*) FROM interaction_states WHERE tenant_id = $1 AND kind = 'LIKE') AS likes,
                  (SELECT count(*) FROM interaction_states WHERE tenant_id = $1 AND kind = 'DISLIKE') AS dislikes,
                  (SELECT count(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL) AS "apiKeys"`,
          [tenantId],
        );
        return rows[0];
      });
    },

    /** Likes, dislikes and new users per UTC day over the last `days` days, oldest first, empty days included. */
    async activity(tenantId: string, days: number): Promise<ActivityDay[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<ActivityDay>(
          `WITH days AS (
             SELECT d::date AS day FROM generate_series((now() AT TIME ZONE 'UTC')::date - ($2::int - 1), (now() AT TIME ZONE 'UTC')::date, interval '1 day') d),
           since AS (SELECT ((now() AT TIME ZONE 'UTC')::date - ($2::int - 1)) AT TIME ZONE 'UTC' AS at)
           SELECT to_char(days.day, 'YYYY-MM-DD') AS day, coalesce(i.likes, 0)::int AS likes, coalesce(i.dislikes, 0)::int AS dislikes,
                  coalesce(u.n, 0)::int AS "newUsers"
             FROM days
             LEFT JOIN (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) FILTER (WHERE kind = 'LIKE') AS likes,
                               count(*) FILTER (WHERE kind = 'DISLIKE') AS dislikes
                          FROM interactions WHERE tenant_id = $1 AND created_at >= (SELECT at FROM since) GROUP BY 1) i ON i.day = days.day
             LEFT JOIN (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n
                          FROM users WHERE tenant_id = $1 AND created_at >= (SELECT at FROM since) GROUP BY 1) u ON u.day = days.day
            ORDER BY days.day`,
          [tenantId, days],
        );
        return rows;
      });
    },
  };
}

export interface ActivityDay {
  day: string;
  likes: number;
  dislikes: number;
  newUsers: number;
}

export type TenantRepository = ReturnType<typeof createTenantRepository>;

/**
 * Operator-only: creates a tenant. Runs on the owner's connection (the API's role may not
 * insert tenants), inside the caller's transaction so the first key commits with it.
 */
export async function insertTenant(owner: pg.ClientBase, input: { name: string; slug: string; embeddingDim: number }): Promise<TenantRow> {
  const { rows } = await owner.query<TenantRow>(`INSERT INTO tenants (name, slug, embedding_dim) VALUES ($1, $2, $3) RETURNING ${TENANT_COLUMNS}`, [
    input.name,
    input.slug,
    input.embeddingDim,
  ]);
  return rows[0];
}

export async function findTenantBySlug(owner: pg.ClientBase, slug: string): Promise<TenantRow | undefined> {
  const { rows } = await owner.query<TenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE slug = $1`, [slug]);
  return rows[0];
}

/** Rows a tenant has, per table: every table with a tenant_id column, found from the catalog. */
export async function tenantFootprint(owner: pg.ClientBase, tenantId: string): Promise<Record<string, number>> {
  const { rows: tables } = await owner.query<{ name: string }>(
    `SELECT c.table_name AS name FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
      WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' ORDER BY c.table_name`,
  );
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const { rows } = await owner.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${name.replace(/"/g, '""')}" WHERE tenant_id = $1`, [tenantId]);
    counts[name] = rows[0].n;
  }
  return counts;
}

/** Deletes the tenant's row; every tenant table's foreign key cascades from it. */
export async function deleteTenantAsOwner(owner: pg.ClientBase, tenantId: string): Promise<void> {
  await owner.query('DELETE FROM tenants WHERE id = $1', [tenantId]);
}

/**
 * The tenant's jobs, queued, active or archived, in pg-boss's tables (their payloads name the
 * tenant): counted, and deleted with `remove`.
 */
export async function tenantJobs(owner: pg.ClientBase, schema: string, tenantId: string, { remove }: { remove: boolean }): Promise<number> {
  let found = 0;
  for (const table of ['job', 'archive']) {
    const { rows } = await owner.query<{ exists: string | null }>('SELECT to_regclass($1) AS exists', [`${schema}.${table}`]);
    if (!rows[0].exists) continue;
    const where = `FROM "${schema}"."${table}" WHERE data->>'tenantId' = $1`;
    const result = remove
      ? await owner.query(`DELETE ${where}`, [tenantId])
      : await owner.query<{ n: number }>(`SELECT count(*)::int AS n ${where}`, [tenantId]);
    found += remove ? (result.rowCount ?? 0) : (result.rows[0] as { n: number }).n;
  }
  return found;
}
