import type { Database } from './database.js';
import { decodeEmbedding, encodeEmbedding } from './embedding-codec.js';

export interface ItemRow {
  id: number;
  externalId: string;
  url: string | null;
  prompt: string | null;
  embedding: Float32Array;
  createdAt: Date;
  updatedAt: Date;
}

export interface ItemWrite {
  externalId: string;
  url: string | null;
  prompt: string | null;
  embedding: ArrayLike<number>;
}

/** An item without its vector, and which write of it this is (`version`, below). */
export interface ItemSummary extends Omit<ItemRow, 'embedding'> {
  version: number;
}

interface RawItemRow extends Omit<ItemRow, 'embedding'> {
  embedding: Buffer;
}

export type ItemDeletion =
  | {
      ok: true;
      /** Internal ids of the items deleted. */
      itemIds: number[];
      /** Events of the log removed with them. */
      interactions: number;
      /** Current likes and dislikes removed with them. */
      likes: number;
      dislikes: number;
      /** Users whose history held any of them. */
      users: number;
      /** Representations dropped (recomputed at the next refresh). */
      representations: number;
      /** Taste groups that listed any of them among their liked or disliked items. */
      tasteGroups: number;
    }
  | { ok: false; missing: string[] };

const ITEM_COLUMNS = `id, external_id AS "externalId", url, prompt, embedding, created_at AS "createdAt", updated_at AS "updatedAt"`;
const toItem = (row: RawItemRow): ItemRow => ({ ...row, embedding: decodeEmbedding(row.embedding) });
// Which write of an item a row shows: its updated_at in microseconds since 1970 (every upsert sets
// it), exact in a double until the year 2255. A copy of the vector taken with the same version is
// the vector stored now.
const VERSION = `(extract(epoch FROM updated_at) * 1000000)::float8 AS "version"`;
const SUMMARY_COLUMNS = `id, external_id AS "externalId", url, prompt, created_at AS "createdAt", updated_at AS "updatedAt", ${VERSION}`;

export function createItemRepository(db: Database) {
  return {
    /** Inserts new items and overwrites existing ones (same external id), in one statement. */
    async upsert(tenantId: string, items: readonly ItemWrite[]): Promise<ItemRow[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<RawItemRow>(
          `INSERT INTO items (tenant_id, external_id, url, prompt, embedding)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bytea[])
           ON CONFLICT (tenant_id, external_id) DO UPDATE
             SET url = excluded.url, prompt = excluded.prompt, embedding = excluded.embedding, updated_at = now()
           RETURNING ${ITEM_COLUMNS}`,
          [tenantId, items.map((i) => i.externalId), items.map((i) => i.url), items.map((i) => i.prompt), items.map((i) => encodeEmbedding(i.embedding))],
        );
        const byExternalId = new Map(rows.map((r) => [r.externalId, toItem(r)]));
        // Every item must come back as it was sent. If the database stored an id differently
        // (it once turned unpaired surrogates into U+FFFD), throwing here rolls the batch
        // back, so the answer never says "failed" about rows that were in fact written.
        return items.map((i) => {
          const row = byExternalId.get(i.externalId);
          if (!row) throw new Error(`item id ${JSON.stringify(i.externalId.slice(0, 60))} was not stored as sent; the batch was rolled back`);
          return row;
        });
      });
    },

    async findByExternalId(tenantId: string, externalId: string): Promise<ItemRow | undefined> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<RawItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE tenant_id = $1 AND external_id = $2`, [tenantId, externalId]);
        return rows[0] && toItem(rows[0]);
      });
    },

    /** Items by internal id, in the order of ids; undefined where an id is not this tenant's. */
    async findByIds(tenantId: string, ids: readonly number[]): Promise<(ItemRow | undefined)[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<RawItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE tenant_id = $1 AND id = ANY($2::bigint[])`, [tenantId, ids]);
        const byId = new Map(rows.map((r) => [r.id, toItem(r)]));
        return ids.map((id) => byId.get(id));
      });
    },

    /**
     * Items by internal id without their vectors, in the order asked; undefined where the tenant
     * has no such item. Feeds and scores take the vectors from the tenant's index where it holds
     * the same version (services/item-vectors.ts): at dimension 512 the vectors are most of a row
     * (500 rows: 6.3 ms with them, 1.5 ms without, most of the difference the client decoding them).
     */
    async summariesByIds(tenantId: string, ids: readonly number[]): Promise<(ItemSummary | undefined)[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<ItemSummary>(`SELECT ${SUMMARY_COLUMNS} FROM items WHERE tenant_id = $1 AND id = ANY($2::bigint[])`, [tenantId, ids]);
        const byId = new Map(rows.map((r) => [r.id, r]));
        return ids.map((id) => byId.get(id));
      });
    },

    /** summariesByIds by external id, in the order asked; undefined where the tenant has no such item. */
    async summariesByExternalIds(tenantId: string, externalIds: readonly string[]): Promise<(ItemSummary | undefined)[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<ItemSummary>(`SELECT ${SUMMARY_COLUMNS} FROM items WHERE tenant_id = $1 AND external_id = ANY($2::text[])`, [
          tenantId,
          externalIds,
        ]);
        const byExternalId = new Map(rows.map((r) => [r.externalId, r]));
        return externalIds.map((id) => byExternalId.get(id));
      });
    },

    /** Items by external id, in the order asked; undefined where the tenant has no such item. */
    async findByExternalIds(tenantId: string, externalIds: readonly string[]): Promise<(ItemRow | undefined)[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<RawItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE tenant_id = $1 AND external_id = ANY($2::text[])`, [
          tenantId,
          externalIds,
        ]);
        const byExternalId = new Map(rows.map((r) => [r.externalId, toItem(r)]));
        return externalIds.map((id) => byExternalId.get(id));
      });
    },

    /** The newest items' ids, newest first (a backward scan of items_tenant_id_idx). */
    async recentIds(tenantId: string, limit: number): Promise<number[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ id: number }>(`SELECT id FROM items WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2`, [tenantId, limit]);
        return rows.map((r) => r.id);
      });
    },

    /**
     * Items changed after (since - overlap, afterId) in (updated_at, id) order, a page at a
     * time, for refreshing in-memory indexes (a range scan of items_tenant_updated_idx).
     * `since` and the returned updatedAt are timestamptz text: a JS Date would cut the
     * microseconds, and the next page would start before rows it already returned.
     */
    async changedSince(
      tenantId: string,
      since: string,
      afterId: number,
      overlapSeconds: number,
      limit: number,
    ): Promise<{ id: number; embedding: Float32Array; updatedAt: string; version: number }[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ id: number; embedding: Buffer; updatedAt: string; version: number }>(
          `SELECT id, embedding, updated_at::text AS "updatedAt", ${VERSION} FROM items
            WHERE tenant_id = $1 AND (updated_at, id) > ($2::timestamptz - make_interval(secs => $3), $4)
            ORDER BY updated_at, id LIMIT $5`,
          [tenantId, since, overlapSeconds, afterId, limit],
        );
        return rows.map((r) => ({ id: r.id, embedding: decodeEmbedding(r.embedding), updatedAt: r.updatedAt, version: r.version }));
      });
    },

    /**
     * Deletes the items of these external ids with their likes, dislikes and undos, in one
     * transaction: all of them, or none when any is not the tenant's (then `missing` lists
     * them). The representations of users whose history held them are dropped (recomputed at
     * the next refresh), and taste groups stop naming them.
     */
    async delete(tenantId: string, externalIds: readonly string[]): Promise<ItemDeletion> {
      return db.withTenant(tenantId, async (sql) => {
        // Locked in id order: concurrent deletions of overlapping lists queue, not deadlock; an
        // ingest naming one of them waits (its foreign key check) and then finds it gone.
        const { rows: found } = await sql.query<{ id: number; externalId: string }>(
          `SELECT id, external_id AS "externalId" FROM items WHERE tenant_id = $1 AND external_id = ANY($2::text[])
            ORDER BY id FOR UPDATE`,
          [tenantId, externalIds],
        );
        const known = new Set(found.map((r) => r.externalId));
        const missing = externalIds.filter((id) => !known.has(id));
        if (missing.length > 0) return { ok: false, missing };
        const ids = found.map((r) => r.id);
        const {
          rows: [removed],
        } = await sql.query<Omit<ItemDeletion & { ok: true }, 'ok' | 'itemIds'>>(
          `WITH states AS (DELETE FROM interaction_states WHERE tenant_id = $1 AND item_id = ANY($2::bigint[]) RETURNING user_id, kind),
                events AS (DELETE FROM interactions WHERE tenant_id = $1 AND item_id = ANY($2::bigint[]) RETURNING user_id),
                touched AS (SELECT user_id FROM states UNION SELECT user_id FROM events),
                representations AS (
                  DELETE FROM user_embeddings WHERE tenant_id = $1 AND user_id IN (SELECT user_id FROM touched) RETURNING 1),
                groups AS (
                  UPDATE taste_groups SET
                    liked = (SELECT coalesce(jsonb_agg(e ORDER BY n), '[]') FROM jsonb_array_elements(liked) WITH ORDINALITY AS x(e, n)
                              WHERE NOT (e->>'itemId')::bigint = ANY($2::bigint[])),
                    disliked = (SELECT coalesce(jsonb_agg(e ORDER BY n), '[]') FROM jsonb_array_elements(disliked) WITH ORDINALITY AS x(e, n)
                                 WHERE NOT (e->>'itemId')::bigint = ANY($2::bigint[]))
                   WHERE tenant_id = $1 AND EXISTS (
                     SELECT 1 FROM jsonb_array_elements(liked || disliked) e WHERE (e->>'itemId')::bigint = ANY($2::bigint[]))
                  RETURNING 1)
           SELECT (SELECT count(*) FROM events)::int AS interactions,
                  (SELECT count(*) FROM states WHERE kind = 'LIKE')::int AS likes,
                  (SELECT count(*) FROM states WHERE kind = 'DISLIKE')::int AS dislikes,
                  (SELECT count(*) FROM touched)::int AS users,
                  (SELECT count(*) FROM representations)::int AS representations,
                  (SELECT count(*) FROM groups)::int AS "tasteGroups"`,
          [tenantId, ids],
        );
        await sql.query('DELETE FROM items WHERE tenant_id = $1 AND id = ANY($2::bigint[])', [tenantId, ids]);
        return { ok: true, itemIds: ids, ...removed };
      });
    },

    /** A page in creation order: `limit` items with id greater than afterId. */
    async list(tenantId: string, limit: number, afterId: number | undefined): Promise<ItemRow[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<RawItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, [
          tenantId,
          afterId ?? 0,
          limit,
        ]);
        return rows.map(toItem);
      });
    },
  };
}

export type ItemRepository = ReturnType<typeof createItemRepository>;
