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
  interactions: number;
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
                  (SELECT count(*) FROM interactions WHERE tenant_id = $1) AS interactions,
                  (SELECT count(*) FROM interactions WHERE tenant_id = $1 AND kind = 'LIKE') AS likes,
                  (SELECT count(*) FROM interactions WHERE tenant_id = $1 AND kind = 'DISLIKE') AS dislikes,
                  (SELECT count(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL) AS "apiKeys"`,
          [tenantId],
        );
        return rows[0];
      });
    },
  };
}

export type TenantRepository = ReturnType<typeof createTenantRepository>;

/**
 * Operator-only: creates a tenant. Runs on the owner's connection (the API's role may not
 * insert tenants), inside the caller's transaction so the first key commits with it.
 */
export async function insertTenant(owner: pg.ClientBase, input: { name: string; slug: string; embeddingDim: number }): Promise<TenantRow> {
  const { rows } = await owner.query<TenantRow>(
    `INSERT INTO tenants (name, slug, embedding_dim) VALUES ($1, $2, $3) RETURNING ${TENANT_COLUMNS}`,
    [input.name, input.slug, input.embeddingDim],
  );
  return rows[0];
}

export async function findTenantBySlug(owner: pg.ClientBase, slug: string): Promise<TenantRow | undefined> {
  const { rows } = await owner.query<TenantRow>(`SELECT ${TENANT_COLUMNS} FROM tenants WHERE slug = $1`, [slug]);
  return rows[0];
}
