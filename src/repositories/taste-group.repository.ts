// Taste-group snapshots: one clustering of a tenant's users, its groups and their members.
// A snapshot is written whole in one transaction, so readers never see half of one.
import type { Database } from './database.js';
import { decodeEmbedding, encodeEmbedding } from './embedding-codec.js';

export type SnapshotTrigger = 'PROMOTION' | 'SCHEDULE' | 'MANUAL';

export interface SnapshotRow {
  id: string;
  model: string;
  trigger: SnapshotTrigger;
  k: number;
  kSource: 'SILHOUETTE' | 'ADMIN';
  users: number;
  silhouette: number;
  daviesBouldin: number;
  calinskiHarabasz: number;
  stability: number | null;
  previousId: string | null;
  details: Record<string, unknown>;
  createdAt: Date;
}

export interface ItemLiftJson {
  itemId: number;
  lift: number;
  users: number;
}

export interface GroupRow {
  id: string;
  snapshotId: string;
  ordinal: number;
  size: number;
  centroid: Float32Array;
  representatives: number[];
  liked: ItemLiftJson[];
  disliked: ItemLiftJson[];
  tokens: { token: number; activation: number }[];
}

export interface MemberPoint {
  userId: number;
  externalId: string;
  groupId: string;
  x: number;
  y: number;
}

export interface SnapshotWrite {
  snapshot: Omit<SnapshotRow, 'id' | 'createdAt'>;
  groups: Omit<GroupRow, 'id' | 'snapshotId'>[];
  /** Per user: the ordinal of their group (1-based) and their place in the picture. */
  members: { userIds: number[]; ordinals: number[]; x: number[]; y: number[] };
}

const SNAPSHOT_COLUMNS = `id, model, trigger, k, k_source AS "kSource", users, silhouette, davies_bouldin AS "daviesBouldin",
  calinski_harabasz AS "calinskiHarabasz", stability, previous_id AS "previousId", details, created_at AS "createdAt"`;
const GROUP_COLUMNS = `id, snapshot_id AS "snapshotId", ordinal, size, centroid, representatives, liked, disliked, tokens`;

type RawGroup = Omit<GroupRow, 'centroid' | 'representatives'> & { centroid: Buffer; representatives: string[] };
const toGroup = (r: RawGroup): GroupRow => ({ ...r, centroid: decodeEmbedding(r.centroid), representatives: r.representatives.map(Number) });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createTasteGroupRepository(db: Database) {
  return {
    async latest(tenantId: string): Promise<SnapshotRow | undefined> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<SnapshotRow>(
          `SELECT ${SNAPSHOT_COLUMNS} FROM taste_group_snapshots WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT 1`,
          [tenantId],
        );
        return rows[0];
      });
    },

    /** undefined for an id that is not a uuid, not a snapshot, or another tenant's. */
    async snapshot(tenantId: string, id: string): Promise<SnapshotRow | undefined> {
      if (!UUID.test(id)) return undefined;
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<SnapshotRow>(`SELECT ${SNAPSHOT_COLUMNS} FROM taste_group_snapshots WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
        return rows[0];
      });
    },

    async groups(tenantId: string, snapshotId: string): Promise<GroupRow[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<RawGroup>(`SELECT ${GROUP_COLUMNS} FROM taste_groups WHERE tenant_id = $1 AND snapshot_id = $2 ORDER BY ordinal`, [
          tenantId,
          snapshotId,
        ]);
        return rows.map(toGroup);
      });
    },

    async group(tenantId: string, id: string): Promise<GroupRow | undefined> {
      if (!UUID.test(id)) return undefined;
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<RawGroup>(`SELECT ${GROUP_COLUMNS} FROM taste_groups WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
        return rows[0] && toGroup(rows[0]);
      });
    },

    /** A page of a group's members in user id order, after afterUserId. */
    async memberIds(tenantId: string, groupId: string, afterUserId: number, limit: number): Promise<number[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ userId: number }>(
          `SELECT user_id AS "userId" FROM taste_group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id > $3 ORDER BY user_id LIMIT $4`,
          [tenantId, groupId, afterUserId, limit],
        );
        return rows.map((r) => r.userId);
      });
    },

    /** The group of each user in a snapshot (undefined where the user was not grouped). */
    async groupsOfUsers(tenantId: string, snapshotId: string, userIds: readonly number[]): Promise<Map<number, string>> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ userId: number; groupId: string }>(
          `SELECT user_id AS "userId", group_id AS "groupId" FROM taste_group_members WHERE tenant_id = $1 AND snapshot_id = $2 AND user_id = ANY($3::bigint[])`,
          [tenantId, snapshotId, userIds],
        );
        return new Map(rows.map((r) => [r.userId, r.groupId]));
      });
    },

    /** The snapshot's picture: every member's point, at most `limit`, in user id order. */
    async points(tenantId: string, snapshotId: string, limit: number): Promise<MemberPoint[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<MemberPoint>(
          `SELECT m.user_id AS "userId", u.external_id AS "externalId", m.group_id AS "groupId", m.x, m.y
             FROM taste_group_members m JOIN users u ON u.id = m.user_id
            WHERE m.tenant_id = $1 AND m.snapshot_id = $2 ORDER BY m.user_id LIMIT $3`,
          [tenantId, snapshotId, limit],
        );
        return rows;
      });
    },

    /** Group ordinal of every member of a snapshot (for the next snapshot's stability). */
    async labels(tenantId: string, snapshotId: string): Promise<Map<number, number>> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ userId: number; ordinal: number }>(
          `SELECT m.user_id AS "userId", g.ordinal FROM taste_group_members m JOIN taste_groups g ON g.id = m.group_id
            WHERE m.tenant_id = $1 AND m.snapshot_id = $2`,
          [tenantId, snapshotId],
        );
        return new Map(rows.map((r) => [r.userId, r.ordinal]));
      });
    },

    /**
     * Likes and dislikes per (group, item) among grouped users, and per item among all of
     * them: what lift is computed from. `ordinals[i]` is the group of `userIds[i]`.
     */
    async itemCounts(
      tenantId: string,
      userIds: readonly number[],
      ordinals: readonly number[],
    ): Promise<{ ordinal: number; itemId: number; likes: number; dislikes: number }[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ ordinal: number; itemId: number; likes: number; dislikes: number }>(
          `SELECT g.ordinal, i.item_id AS "itemId",
                  count(*) FILTER (WHERE i.kind = 'LIKE')::int AS likes,
                  count(*) FILTER (WHERE i.kind = 'DISLIKE')::int AS dislikes
             FROM unnest($2::bigint[], $3::int[]) AS g(user_id, ordinal)
             JOIN interaction_states i ON i.tenant_id = $1 AND i.user_id = g.user_id
            GROUP BY g.ordinal, i.item_id`,
          [tenantId, userIds, ordinals],
        );
        return rows;
      });
    },

    /** Writes a snapshot, its groups and members in one transaction; returns its id. */
    async insert(tenantId: string, w: SnapshotWrite): Promise<string> {
      return db.withTenant(tenantId, async (sql) => {
        const s = w.snapshot;
        const { rows } = await sql.query<{ id: string }>(
          `INSERT INTO taste_group_snapshots (tenant_id, model, trigger, k, k_source, users, silhouette, davies_bouldin, calinski_harabasz, stability, previous_id, details)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
          [
            tenantId,
            s.model,
            s.trigger,
            s.k,
            s.kSource,
            s.users,
            s.silhouette,
            s.daviesBouldin,
            s.calinskiHarabasz,
            s.stability,
            s.previousId,
            JSON.stringify(s.details),
          ],
        );
        const snapshotId = rows[0].id;
        const groups = await sql.query<{ id: string; ordinal: number }>(
          `INSERT INTO taste_groups (tenant_id, snapshot_id, ordinal, size, centroid, representatives, liked, disliked, tokens)
           SELECT $1, $2, g.ordinal, g.size, g.centroid, ARRAY(SELECT jsonb_array_elements_text(g.representatives)::bigint), g.liked, g.disliked, g.tokens
             FROM unnest($3::int[], $4::int[], $5::bytea[], $6::jsonb[], $7::jsonb[], $8::jsonb[], $9::jsonb[])
                  AS g(ordinal, size, centroid, representatives, liked, disliked, tokens)
           RETURNING id, ordinal`,
          [
            tenantId,
            snapshotId,
            w.groups.map((g) => g.ordinal),
            w.groups.map((g) => g.size),
            w.groups.map((g) => encodeEmbedding(g.centroid)),
            w.groups.map((g) => JSON.stringify(g.representatives)),
            w.groups.map((g) => JSON.stringify(g.liked)),
            w.groups.map((g) => JSON.stringify(g.disliked)),
            w.groups.map((g) => JSON.stringify(g.tokens)),
          ],
        );
        const idOf = new Map(groups.rows.map((g) => [g.ordinal, g.id]));
        await sql.query(
          `INSERT INTO taste_group_members (tenant_id, snapshot_id, user_id, group_id, x, y)
           SELECT $1, $2, * FROM unnest($3::bigint[], $4::uuid[], $5::real[], $6::real[])`,
          [tenantId, snapshotId, w.members.userIds, w.members.ordinals.map((o) => idOf.get(o)), w.members.x, w.members.y],
        );
        return snapshotId;
      });
    },

    /** Tenants with interactions since their latest snapshot (ids only; SECURITY DEFINER). */
    async tenantsDue(): Promise<string[]> {
      return db.withoutTenant(async (sql) =>
        (await sql.query<{ tenant_id: string }>('SELECT tenant_id FROM app_tenants_due_for_taste_groups()')).rows.map((r) => r.tenant_id),
      );
    },

    /** Keeps the `keep` newest snapshots of the tenant (members make up most of the space). */
    async prune(tenantId: string, keep: number): Promise<number> {
      return db.withTenant(tenantId, async (sql) => {
        const { rowCount } = await sql.query(
          `DELETE FROM taste_group_snapshots WHERE tenant_id = $1 AND id NOT IN
             (SELECT id FROM taste_group_snapshots WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT $2)`,
          [tenantId, keep],
        );
        return rowCount ?? 0;
      });
    },
  };
}

export type TasteGroupRepository = ReturnType<typeof createTasteGroupRepository>;
