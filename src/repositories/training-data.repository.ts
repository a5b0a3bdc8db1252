// A tenant's items and interactions for training, streamed through server-side cursors in one
// snapshot: the rows pass through in batches and are never held together, so a tenant with
// ten million interactions costs the exporting process a batch of memory, not the tenant.
import type { Database, Sql } from './database.js';

export interface ExportItemRow {
  externalId: string;
  prompt: string | null;
  /** float32 little-endian, as stored: written to items.npy as it is. */
  embedding: Buffer;
}

export interface ExportInteractionRow {
  id: number;
  userExternalId: string;
  itemExternalId: string;
  kind: 'LIKE' | 'DISLIKE';
  /** Seconds since the epoch. */
  ts: number;
  pairId: string | null;
}

export interface ExportSink {
  /** Called once, before any item: how many items follow, and their dimension. */
  begin(items: number, dim: number): Promise<void>;
  items(rows: ExportItemRow[]): Promise<void>;
  /** Grouped by user (each user's rows together, oldest first). */
  interactions(rows: ExportInteractionRow[]): Promise<void>;
}

async function drain<T>(sql: Sql, cursor: string, batch: number, onRows: (rows: T[]) => Promise<void>): Promise<void> {
  for (;;) {
    const { rows } = await sql.query<T & Record<string, unknown>>(`FETCH ${batch} FROM ${cursor}`);
    if (rows.length === 0) break;
    await onRows(rows);
  }
  await sql.query(`CLOSE ${cursor}`);
}

export function createTrainingDataRepository(db: Database) {
  return {
    /** Streams the tenant's items, then its interactions, to the sink, from one consistent snapshot. */
    async exportSnapshot(tenantId: string, sink: ExportSink, batch = 5000): Promise<void> {
      await db.withTenantSnapshot(tenantId, async (sql) => {
        const {
          rows: [counts],
        } = await sql.query<{ items: number; dim: number }>(
          `SELECT (SELECT count(*) FROM items WHERE tenant_id = $1) AS items, embedding_dim AS dim FROM tenants WHERE id = $1`,
          [tenantId],
        );
        await sink.begin(counts?.items ?? 0, counts?.dim ?? 0);
        await sql.query(
          `DECLARE export_items NO SCROLL CURSOR FOR
             SELECT external_id AS "externalId", prompt, embedding FROM items WHERE tenant_id = $1 ORDER BY id`,
          [tenantId],
        );
        await drain<ExportItemRow>(sql, 'export_items', batch, (rows) => sink.items(rows));
        // The latest state per user and item (undone and replaced events are not taught), by
        // user, then in the order the states were set: EVAL-1 reads a user's rows in (ts, line)
        // order. A pair id is kept only while both of its pair are current (the contract's pair
        // is two rows). Users erased after they were created are left out even if their rows
        // are back (a restore from a backup taken before the erasure): user_erasures says so.
        await sql.query(
          `DECLARE export_interactions NO SCROLL CURSOR FOR
             WITH erased AS MATERIALIZED (
               SELECT u.id FROM users u
                WHERE u.tenant_id = $1
                  AND EXISTS (SELECT 1 FROM user_erasures WHERE tenant_id = $1)
                  AND EXISTS (SELECT 1 FROM user_erasures e
                               WHERE e.tenant_id = $1 AND e.user_hash = app_user_hash($1, u.external_id) AND e.erased_at >= u.created_at))
             SELECT s.interaction_id AS id, u.external_id AS "userExternalId", it.external_id AS "itemExternalId", s.kind,
                    extract(epoch FROM i.created_at)::bigint AS ts,
                    CASE WHEN count(*) OVER (PARTITION BY s.user_id, i.pair_id) = 2 THEN i.pair_id END AS "pairId"
               FROM interaction_states s
               JOIN interactions i ON i.tenant_id = $1 AND i.id = s.interaction_id
               JOIN users u ON u.id = s.user_id JOIN items it ON it.id = s.item_id
              WHERE s.tenant_id = $1 AND s.user_id NOT IN (SELECT id FROM erased)
              ORDER BY s.user_id, s.interaction_id`,
          [tenantId],
        );
        await drain<ExportInteractionRow>(sql, 'export_interactions', batch, (rows) => sink.interactions(rows));
      });
    },
  };
}

export type TrainingDataRepository = ReturnType<typeof createTrainingDataRepository>;
