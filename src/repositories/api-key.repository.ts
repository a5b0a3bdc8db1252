import type pg from 'pg';
import type { Database, Sql } from './database.js';

export type ApiKeyRole = 'app' | 'admin';

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  role: ApiKeyRole;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface KeyOwner {
  keyId: string;
  tenantId: string;
  role: ApiKeyRole;
  revoked: boolean;
}

export interface NewApiKey {
  name: string;
  prefix: string;
  keyHash: Buffer;
  role: ApiKeyRole;
}

const KEY_COLUMNS = `id, name, prefix, role, created_at AS "createdAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"`;

async function insertKey(sql: Pick<Sql, 'query'>, tenantId: string, key: NewApiKey): Promise<ApiKeyRow> {
  const { rows } = await sql.query<ApiKeyRow>(
    `INSERT INTO api_keys (tenant_id, name, prefix, key_hash, role) VALUES ($1, $2, $3, $4, $5) RETURNING ${KEY_COLUMNS}`,
    [tenantId, key.name, key.prefix, key.keyHash, key.role],
  );
  return rows[0];
}

export function createApiKeyRepository(db: Database) {
  return {
    /** The only query that runs before the tenant is known (see app_authenticate in the migration). */
    async findOwner(keyHash: Buffer): Promise<KeyOwner | undefined> {
      return db.withoutTenant(async (sql) => {
        const { rows } = await sql.query<KeyOwner>(`SELECT key_id AS "keyId", tenant_id AS "tenantId", role, revoked FROM app_authenticate($1)`, [keyHash]);
        return rows[0];
      });
    },

    create: (tenantId: string, key: NewApiKey) => db.withTenant(tenantId, (sql) => insertKey(sql, tenantId, key)),

    async list(tenantId: string): Promise<ApiKeyRow[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id`, [tenantId]);
        return rows;
      });
    },

    /** Revokes a key of this tenant; revoking twice keeps the first revocation time. */
    async revoke(tenantId: string, keyId: string): Promise<ApiKeyRow | undefined> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<ApiKeyRow>(
          `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
            WHERE tenant_id = $1 AND id = $2 RETURNING ${KEY_COLUMNS}`,
          [tenantId, keyId],
        );
        return rows[0];
      });
    },
  };
}

export type ApiKeyRepository = ReturnType<typeof createApiKeyRepository>;

/** Operator-only: a tenant's first key, on the owner's connection (see insertTenant). */
export const insertApiKeyAsOwner = (owner: pg.ClientBase, tenantId: string, key: NewApiKey) => insertKey(owner, tenantId, key);
