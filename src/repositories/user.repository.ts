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
        const { rows } = await sql.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 AND external_id = $2`, [tenantId, externalId]);
        return rows[0];
      });
    },

    /**
     * A page in creation order: `limit` users with id greater than afterId; with groupId,
     * only that taste group's members.
     */
    async list(tenantId: string, limit: number, afterId: number | undefined, groupId?: string): Promise<UserRow[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = groupId
          ? await sql.query<UserRow>(
              `SELECT u.id, u.external_id AS "externalId", u.created_at AS "createdAt"
                 FROM taste_group_members m JOIN users u ON u.id = m.user_id
                WHERE m.tenant_id = $1 AND m.group_id = $4 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3`,
              [tenantId, afterId ?? 0, limit, groupId],
            )
          : await sql.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, [
              tenantId,
              afterId ?? 0,
              limit,
            ]);
        return rows;
      });
    },

    /** Users by internal id, in the order of ids; undefined where an id is not this tenant's. */
    async findByIds(tenantId: string, ids: readonly number[]): Promise<(UserRow | undefined)[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = ANY($2::bigint[])`, [tenantId, ids]);
        const byId = new Map(rows.map((r) => [r.id, r]));
        return ids.map((id) => byId.get(id));
      });
    },
  };
}

export type UserRepository = ReturnType<typeof createUserRepository>;
