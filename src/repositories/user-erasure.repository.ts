// Erasing an end user: every row of theirs, in one transaction, and the record that it
// happened (a keyed hash of their id, the time and the counts: never what was erased).
import type { ApiKeyRole } from './api-key.repository.js';
import type { Database } from './database.js';

/** Rows removed by one erasure, by kind. */
export interface ErasedRows {
  /** Events of the log: likes, dislikes and undos. */
  interactions: number;
  /** Current states (likes and dislikes now). */
  likes: number;
  dislikes: number;
  /** Stored representations (one per model). */
  representations: number;
  tasteGroupMemberships: number;
  /** Taste groups that named the user among their representatives. */
  tasteGroupRepresentatives: number;
}

export type EraseOutcome =
  | { status: 'erased'; userId: number; erasedAt: Date; removed: ErasedRows }
  /** No such user now, but the tenant erased one of this id before. */
  | { status: 'already-erased'; erasedAt: Date }
  | { status: 'unknown' };

export function createUserErasureRepository(db: Database) {
  return {
    async erase(tenantId: string, externalId: string, requestedBy: ApiKeyRole): Promise<EraseOutcome> {
      return db.withTenant(tenantId, async (sql) => {
        // Locked first: a concurrent ingest that references the user (its foreign key check
        // holds a share lock on this row) commits before the erasure reads what to remove.
        const {
          rows: [user],
        } = await sql.query<{ id: number }>('SELECT id FROM users WHERE tenant_id = $1 AND external_id = $2 FOR UPDATE', [tenantId, externalId]);
        if (!user) {
          const {
            rows: [before],
          } = await sql.query<{ erasedAt: Date }>(
            `SELECT erased_at AS "erasedAt" FROM user_erasures
              WHERE tenant_id = $1 AND user_hash = app_user_hash($1, $2) ORDER BY erased_at DESC LIMIT 1`,
            [tenantId, externalId],
          );
          return before ? { status: 'already-erased', erasedAt: before.erasedAt } : { status: 'unknown' };
        }
        // Everything that names the user, counted as it goes; the user row last (its foreign
        // keys would cascade to the same rows, uncounted). A table added later that references
        // users with ON DELETE CASCADE is covered by that last delete.
        const {
          rows: [removed],
        } = await sql.query<ErasedRows>(
          `WITH states AS (DELETE FROM interaction_states WHERE tenant_id = $1 AND user_id = $2 RETURNING kind),
                events AS (DELETE FROM interactions WHERE tenant_id = $1 AND user_id = $2 RETURNING 1),
                representations AS (DELETE FROM user_embeddings WHERE tenant_id = $1 AND user_id = $2 RETURNING 1),
                memberships AS (DELETE FROM taste_group_members WHERE tenant_id = $1 AND user_id = $2 RETURNING 1),
                representatives AS (
                  UPDATE taste_groups SET representatives = array_remove(representatives, $2::bigint)
                   WHERE tenant_id = $1 AND $2::bigint = ANY(representatives) RETURNING 1)
           SELECT (SELECT count(*) FROM events)::int AS interactions,
                  (SELECT count(*) FROM states WHERE kind = 'LIKE')::int AS likes,
                  (SELECT count(*) FROM states WHERE kind = 'DISLIKE')::int AS dislikes,
                  (SELECT count(*) FROM representations)::int AS representations,
                  (SELECT count(*) FROM memberships)::int AS "tasteGroupMemberships",
                  (SELECT count(*) FROM representatives)::int AS "tasteGroupRepresentatives"`,
          [tenantId, user.id],
        );
        await sql.query('DELETE FROM users WHERE tenant_id = $1 AND id = $2', [tenantId, user.id]);
        const {
          rows: [record],
        } = await sql.query<{ erasedAt: Date }>(
          `INSERT INTO user_erasures (tenant_id, user_hash, removed, requested_by)
           VALUES ($1, app_user_hash($1, $2), $3, $4) RETURNING erased_at AS "erasedAt"`,
          [tenantId, externalId, JSON.stringify(removed), requestedBy],
        );
        return { status: 'erased', userId: user.id, erasedAt: record.erasedAt, removed };
      });
    },
  };
}

export type UserErasureRepository = ReturnType<typeof createUserErasureRepository>;
