import type { Database } from './database.js';

export interface UserRow {
  id: number;
  externalId: string;
  createdAt: Date;
}

const USER_COLUMNS = `id, external_id AS "externalId", created_at AS "createdAt"`;

export function createUserRepository(db: Database) {
  return {
    async findByExternalId(tenantId: string, externalId: string): Promise<UserRow | undefined> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<UserRow>(
          `SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 AND external_id = $2`,
          [tenantId, externalId],
        );
        return rows[0];
      });
    },

    /** Users by internal id, in the order of ids; undefined where an id is not this tenant's. */
    async findByIds(tenantId: string, ids: readonly number[]): Promise<(UserRow | undefined)[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<UserRow>(
          `SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = ANY($2::bigint[])`,
          [tenantId, ids],
        );
        const byId = new Map(rows.map((r) => [r.id, r]));
        return ids.map((id) => byId.get(id));
      });
    },
  };
}

export type UserRepository = ReturnType<typeof createUserRepository>;
