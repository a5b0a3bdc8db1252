// Users' representations by the model that serves their tenant (user_embeddings), and what
// computing them reads: who needs one, and their latest likes and dislikes.
import type { Database } from './database.js';
import { decodeEmbedding, encodeEmbedding } from './embedding-codec.js';
import type { InteractionKind } from './interaction.repository.js';

export interface StaleUser {
  userId: number;
  /** The user's newest interaction id: the embedding computed now reflects everything up to it. */
  last: number;
}

export interface HistoryRow {
  userId: number;
  itemId: number;
  kind: InteractionKind;
}

export interface EmbeddingWrite {
  userId: number;
  embedding: Float32Array;
  historySize: number;
  through: number;
}

/** A tenant's embeddings by one model, as one matrix (row i is userIds[i]). */
export interface EmbeddingMatrix {
  userIds: number[];
  dim: number;
  data: Float32Array;
}

export function createUserEmbeddingRepository(db: Database) {
  return {
    /**
     * Users with at least minPerKind likes and minPerKind dislikes whose embedding by `model`
     * is missing or older than their newest interaction. One pass over the tenant's interactions.
     */
    async stale(tenantId: string, model: string, minPerKind: number): Promise<StaleUser[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<StaleUser>(
          `SELECT s.user_id AS "userId", s.last
             FROM (SELECT c.user_id, c.likes, c.dislikes, l.last
                     FROM (SELECT user_id, count(*) FILTER (WHERE kind = 'LIKE') AS likes,
                                  count(*) FILTER (WHERE kind = 'DISLIKE') AS dislikes
                             FROM interaction_states WHERE tenant_id = $1 GROUP BY user_id) c
                     -- The newest event, an undo included: any change of the user's states.
                     JOIN (SELECT user_id, max(id) AS last FROM interactions WHERE tenant_id = $1 GROUP BY user_id) l
                       ON l.user_id = c.user_id) s
             LEFT JOIN user_embeddings e ON e.tenant_id = $1 AND e.model = $2 AND e.user_id = s.user_id
            WHERE s.likes >= $3 AND s.dislikes >= $3 AND (e.user_id IS NULL OR e.through_interaction < s.last)
            ORDER BY s.user_id`,
          [tenantId, model, minPerKind],
        );
        return rows;
      });
    },

    /** Each user's latest perKind likes and dislikes: two bounded index scans per user. */
    async latestHistories(tenantId: string, userIds: readonly number[], perKind: number): Promise<HistoryRow[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<HistoryRow>(
          `SELECT u.id AS "userId", h.item_id AS "itemId", h.kind
             FROM unnest($2::bigint[]) AS u(id),
                  LATERAL ((SELECT item_id, kind FROM interaction_states
                             WHERE tenant_id = $1 AND user_id = u.id AND kind = 'LIKE' ORDER BY interaction_id DESC LIMIT $3)
                           UNION ALL
                           (SELECT item_id, kind FROM interaction_states
                             WHERE tenant_id = $1 AND user_id = u.id AND kind = 'DISLIKE' ORDER BY interaction_id DESC LIMIT $3)) h`,
          [tenantId, userIds, perKind],
        );
        return rows;
      });
    },

    /** Item vectors by id (those of the tenant). */
    async itemVectors(tenantId: string, itemIds: readonly number[]): Promise<Map<number, Float32Array>> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ id: number; embedding: Buffer }>('SELECT id, embedding FROM items WHERE tenant_id = $1 AND id = ANY($2::bigint[])', [
          tenantId,
          itemIds,
        ]);
        return new Map(rows.map((r) => [r.id, decodeEmbedding(r.embedding)]));
      });
    },

    /** Inserts or replaces embeddings in one statement. */
    async upsert(tenantId: string, model: string, rows: readonly EmbeddingWrite[]): Promise<void> {
      if (rows.length === 0) return;
      await db.withTenant(tenantId, async (sql) => {
        await sql.query(
          `INSERT INTO user_embeddings (tenant_id, model, user_id, embedding, history_size, through_interaction)
           SELECT $1, $2, * FROM unnest($3::bigint[], $4::bytea[], $5::int[], $6::bigint[])
           ON CONFLICT (tenant_id, model, user_id) DO UPDATE
             SET embedding = EXCLUDED.embedding, history_size = EXCLUDED.history_size,
                 through_interaction = EXCLUDED.through_interaction, computed_at = now()`,
          [
            tenantId,
            model,
            rows.map((r) => r.userId),
            rows.map((r) => encodeEmbedding(r.embedding)),
            rows.map((r) => r.historySize),
            rows.map((r) => r.through),
          ],
        );
      });
    },

    /** Every embedding of the tenant by `model`, in user id order. */
    async matrix(tenantId: string, model: string): Promise<EmbeddingMatrix> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ userId: number; embedding: Buffer }>(
          `SELECT user_id AS "userId", embedding FROM user_embeddings WHERE tenant_id = $1 AND model = $2 ORDER BY user_id`,
          [tenantId, model],
        );
        const dim = rows.length ? rows[0].embedding.length / 4 : 0;
        const data = new Float32Array(rows.length * dim);
        rows.forEach((r, i) => data.set(decodeEmbedding(r.embedding), i * dim));
        return { userIds: rows.map((r) => r.userId), dim, data };
      });
    },

    async forUser(tenantId: string, model: string, userId: number): Promise<{ embedding: Float32Array; historySize: number; computedAt: Date } | undefined> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ embedding: Buffer; historySize: number; computedAt: Date }>(
          `SELECT embedding, history_size AS "historySize", computed_at AS "computedAt"
             FROM user_embeddings WHERE tenant_id = $1 AND model = $2 AND user_id = $3`,
          [tenantId, model, userId],
        );
        return rows[0] && { ...rows[0], embedding: decodeEmbedding(rows[0].embedding) };
      });
    },

    /** Drops embeddings by models other than `keep` (a promotion made them stale for good). */
    async deleteOtherModels(tenantId: string, keep: string): Promise<number> {
      return db.withTenant(tenantId, async (sql) => {
        const { rowCount } = await sql.query('DELETE FROM user_embeddings WHERE tenant_id = $1 AND model <> $2', [tenantId, keep]);
        return rowCount ?? 0;
      });
    },

    /** Items both users liked, per other user: at most perUser items each, and how many in all. */
    async sharedLikes(
      tenantId: string,
      userId: number,
      others: readonly number[],
      perUser: number,
    ): Promise<Map<number, { itemIds: number[]; count: number }>> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ userId: number; itemIds: number[]; count: number }>(
          `SELECT b.user_id AS "userId", (array_agg(b.item_id ORDER BY b.item_id))[1:$4] AS "itemIds", count(*)::int AS count
             FROM (SELECT item_id FROM interaction_states WHERE tenant_id = $1 AND user_id = $2 AND kind = 'LIKE') a
             JOIN (SELECT user_id, item_id FROM interaction_states
                    WHERE tenant_id = $1 AND user_id = ANY($3::bigint[]) AND kind = 'LIKE') b ON b.item_id = a.item_id
            GROUP BY b.user_id`,
          [tenantId, userId, others, perUser],
        );
        return new Map(rows.map((r) => [r.userId, { itemIds: r.itemIds.map(Number), count: r.count }]));
      });
    },
  };
}

export type UserEmbeddingRepository = ReturnType<typeof createUserEmbeddingRepository>;
