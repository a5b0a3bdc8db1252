import type { Database, Sql } from './database.js';

export type InteractionKind = 'LIKE' | 'DISLIKE';
/** An event of the log: a like, a dislike, or an undo (CLEAR) of the pair's state. */
export type EventKind = InteractionKind | 'CLEAR';

export interface InteractionWrite {
  userExternalId: string;
  itemExternalId: string;
  kind: InteractionKind;
  pairId: string | null;
  eventId: string | null;
}

export interface InteractionRow {
  id: number;
  userId: number;
  itemId: number;
  kind: EventKind;
  pairId: string | null;
  eventId: string | null;
  createdAt: Date;
}

/** An event's user or item that the tenant does not have, by the event's position. */
export interface MissingRef {
  index: number;
  field: 'userId' | 'itemId';
}

/** An event id the tenant stored before for a different event, with what it was stored for. */
export interface ReusedEventId {
  index: number;
  stored: { userExternalId: string; itemExternalId: string; kind: EventKind };
}

// Refusals are data, by the events' positions: the service words them for the client.
export type RecordOutcome =
  | { ok: true; interactions: InteractionRow[] }
  | { ok: false; reason: 'missing'; missing: MissingRef[] }
  | { ok: false; reason: 'event-id-reused'; reused: ReusedEventId[] }
  /** A user or item of the call was deleted while the call was being stored; nothing was stored. */
  | { ok: false; reason: 'deleted-meanwhile' };

const FOREIGN_KEY_VIOLATION = '23503';

const ROW_COLUMNS = `id, user_id AS "userId", item_id AS "itemId", kind, pair_id AS "pairId", event_id AS "eventId", created_at AS "createdAt"`;

/** Thrown inside the transaction to roll back writes already made, then turned into an outcome. */
class RollBack extends Error {
  constructor(readonly outcome: RecordOutcome) {
    super('rolled back');
  }
}

interface StoredEvent extends InteractionRow {
  userExternalId: string;
  itemExternalId: string;
}

async function findStoredEvents(sql: Sql, tenantId: string, eventIds: string[]): Promise<Map<string, StoredEvent>> {
  if (eventIds.length === 0) return new Map();
  const { rows } = await sql.query<StoredEvent>(
    `SELECT i.id, i.user_id AS "userId", i.item_id AS "itemId", i.kind, i.pair_id AS "pairId", i.event_id AS "eventId",
            i.created_at AS "createdAt", u.external_id AS "userExternalId", it.external_id AS "itemExternalId"
       FROM interactions i JOIN users u ON u.id = i.user_id JOIN items it ON it.id = i.item_id
      WHERE i.tenant_id = $1 AND i.event_id = ANY($2::text[])`,
    [tenantId, eventIds],
  );
  return new Map(rows.map((r) => [r.eventId!, r]));
}

/** A retry must describe the same event; anything else reusing the id is a client bug. */
function sameEvent(stored: StoredEvent, event: InteractionWrite): boolean {
  return (
    stored.userExternalId === event.userExternalId &&
    stored.itemExternalId === event.itemExternalId &&
    stored.kind === event.kind &&
    stored.pairId === event.pairId
  );
}

function conflicts(events: readonly InteractionWrite[], stored: Map<string, StoredEvent>): ReusedEventId[] {
  const reused: ReusedEventId[] = [];
  events.forEach((event, index) => {
    const previous = event.eventId === null ? undefined : stored.get(event.eventId);
    if (previous && !sameEvent(previous, event)) {
      reused.push({ index, stored: { userExternalId: previous.userExternalId, itemExternalId: previous.itemExternalId, kind: previous.kind } });
    }
  });
  return reused;
}

interface ResolvedIds {
  users: Map<string, number>;
  items: Map<string, number>;
}

/**
 * One statement that creates users seen for the first time and resolves the internal ids of
 * all the call's users and items. Users are created before the items are known to exist:
 * when one is not, the caller rolls the transaction back, users included.
 */
async function resolveIds(sql: Sql, tenantId: string, userExternalIds: string[], itemExternalIds: string[]): Promise<ResolvedIds> {
  // The plain SELECT from users runs on the statement's snapshot, so it sees the users that
  // existed before and the CTE returns the ones it created: together, each user once.
  const { rows } = await sql.query<{ kind: 'u' | 'i'; id: number; externalId: string }>(
    `WITH created AS (
       INSERT INTO users (tenant_id, external_id) SELECT $1, unnest($2::text[])
       ON CONFLICT (tenant_id, external_id) DO NOTHING
       RETURNING id, external_id)
     SELECT 'u' AS kind, id, external_id AS "externalId" FROM created
     UNION ALL
     SELECT 'u', id, external_id FROM users WHERE tenant_id = $1 AND external_id = ANY($2::text[])
     UNION ALL
     SELECT 'i', id, external_id FROM items WHERE tenant_id = $1 AND external_id = ANY($3::text[])`,
    [tenantId, userExternalIds, itemExternalIds],
  );
  const ids: ResolvedIds = { users: new Map(), items: new Map() };
  for (const r of rows) (r.kind === 'u' ? ids.users : ids.items).set(r.externalId, r.id);
  // A concurrent call may have created some of these users after our snapshot was taken:
  // ON CONFLICT waited for it and skipped them, and our snapshot cannot see them. A new
  // statement gets a new snapshot (READ COMMITTED) and does.
  const missing = userExternalIds.filter((id) => !ids.users.has(id));
  if (missing.length > 0) {
    const late = await sql.query<{ id: number; externalId: string }>(
      `SELECT id, external_id AS "externalId" FROM users WHERE tenant_id = $1 AND external_id = ANY($2::text[])`,
      [tenantId, missing],
    );
    for (const r of late.rows) ids.users.set(r.externalId, r.id);
  }
  return ids;
}

async function recordInTransaction(sql: Sql, tenantId: string, events: readonly InteractionWrite[]): Promise<RecordOutcome> {
  const ids = await resolveIds(sql, tenantId, [...new Set(events.map((e) => e.userExternalId))], [...new Set(events.map((e) => e.itemExternalId))]);
  // Users are created on first sight; items must exist. Another tenant's item is as missing as
  // one that never was, so a tenant has nothing to probe.
  const missing: MissingRef[] = [];
  events.forEach((e, index) => {
    if (!ids.items.has(e.itemExternalId)) missing.push({ index, field: 'itemId' });
  });
  if (missing.length > 0) throw new RollBack({ ok: false, reason: 'missing', missing });

  const stored = await insertNew(sql, tenantId, events, ids);

  // Events that ON CONFLICT skipped were stored before (by an earlier try of this call, or
  // by a concurrent one): read them, and hold them to the same event, or roll all back.
  const skipped = events.filter((e) => !stored.has(e)).map((e) => e.eventId!);
  if (skipped.length > 0) {
    const previous = await findStoredEvents(sql, tenantId, skipped);
    const reused = conflicts(events, previous);
    if (reused.length > 0) throw new RollBack({ ok: false, reason: 'event-id-reused', reused });
    for (const e of events) if (!stored.has(e)) stored.set(e, toRow(previous.get(e.eventId!)!));
  }
  return { ok: true, interactions: events.map((e) => stored.get(e)!) };
}

const toRow = (r: InteractionRow): InteractionRow => ({
  id: r.id,
  userId: r.userId,
  itemId: r.itemId,
  kind: r.kind,
  pairId: r.pairId,
  eventId: r.eventId,
  createdAt: r.createdAt,
});

/**
 * Inserts every event whose eventId is not stored yet, and makes each new event its pair's
 * state, in one statement; returns the rows it stored by event. Optimistic on purpose: a
 * retry is the rare case, so looking up event ids first would cost every call a query to save
 * a few calls one. A retried event found stored is not applied to the state again: a later
 * event may have replaced it since.
 */
async function insertNew(sql: Sql, tenantId: string, events: readonly InteractionWrite[], ids: ResolvedIds): Promise<Map<InteractionWrite, InteractionRow>> {
  const users = events.map((e) => ids.users.get(e.userExternalId)!);
  const items = events.map((e) => ids.items.get(e.itemExternalId)!);
  const { rows } = await sql.query<{ id: number; eventId: string | null; createdAt: Date }>(
    `WITH stored AS (
       INSERT INTO interactions (tenant_id, user_id, item_id, kind, pair_id, event_id)
       SELECT $1, u, i, k, p, e
         FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS t(u, i, k, p, e, n)
        ORDER BY n
       ON CONFLICT (tenant_id, event_id) DO NOTHING
       RETURNING id, user_id, item_id, kind, event_id, created_at),
     state AS (
       ${UPSERT_STATES_SQL})
     SELECT id, event_id AS "eventId", created_at AS "createdAt" FROM stored`,
    [tenantId, users, items, events.map((e) => e.kind), events.map((e) => e.pairId), events.map((e) => e.eventId)],
  );
  // Identity ids are drawn in ORDER BY n order, so ascending ids follow the input order;
  // RETURNING itself promises no order. Events with an id match by that id.
  const byEventId = new Map(rows.filter((r) => r.eventId !== null).map((r) => [r.eventId!, r]));
  const anonymous = rows.filter((r) => r.eventId === null).sort((a, b) => a.id - b.id);
  const result = new Map<InteractionWrite, InteractionRow>();
  let next = 0;
  events.forEach((e, i) => {
    const row = e.eventId === null ? anonymous[next++] : byEventId.get(e.eventId);
    if (row) {
      result.set(e, { id: row.id, userId: users[i], itemId: items[i], kind: e.kind, pairId: e.pairId, eventId: e.eventId, createdAt: row.createdAt });
    }
  });
  return result;
}

/**
 * The state upsert, reading the CTE "stored": the last event of each pair in the call (an
 * upsert may not touch one row twice), in key order so that concurrent calls lock shared
 * pairs in the same order (no deadlock); a state is replaced only by a later event, so two
 * writers of one pair end on the later event whichever commits first.
 */
const UPSERT_STATES_SQL = `
       INSERT INTO interaction_states AS s (tenant_id, user_id, item_id, kind, interaction_id)
       SELECT DISTINCT ON (user_id, item_id) $1::uuid, user_id, item_id, kind, id FROM stored
        ORDER BY user_id, item_id, id DESC
       ON CONFLICT (tenant_id, user_id, item_id) DO UPDATE
          SET kind = EXCLUDED.kind, interaction_id = EXCLUDED.interaction_id
        WHERE s.interaction_id < EXCLUDED.interaction_id
       RETURNING 1`;

export interface ClearWrite {
  userExternalId: string;
  itemExternalId: string;
}

/** What an undo found: the state it removed, if the pair had one. */
export interface ClearResult {
  userId: number;
  itemId: number;
  /** The kind of the state removed; null when the pair had none (nothing to undo). */
  previous: InteractionKind | null;
  /** The CLEAR event logged; null when there was nothing to undo. */
  event: InteractionRow | null;
}

export type ClearOutcome = { ok: true; results: ClearResult[] } | { ok: false; reason: 'missing'; missing: MissingRef[] };

async function clearInTransaction(sql: Sql, tenantId: string, pairs: readonly ClearWrite[]): Promise<ClearOutcome> {
  const { rows: found } = await sql.query<{ kind: 'u' | 'i'; id: number; externalId: string }>(
    `SELECT 'u' AS kind, id, external_id AS "externalId" FROM users WHERE tenant_id = $1 AND external_id = ANY($2::text[])
     UNION ALL
     SELECT 'i', id, external_id FROM items WHERE tenant_id = $1 AND external_id = ANY($3::text[])`,
    [tenantId, [...new Set(pairs.map((p) => p.userExternalId))], [...new Set(pairs.map((p) => p.itemExternalId))]],
  );
  const users = new Map(found.filter((r) => r.kind === 'u').map((r) => [r.externalId, r.id]));
  const items = new Map(found.filter((r) => r.kind === 'i').map((r) => [r.externalId, r.id]));
  const missing: MissingRef[] = [];
  pairs.forEach((p, index) => {
    if (!users.has(p.userExternalId)) missing.push({ index, field: 'userId' });
    if (!items.has(p.itemExternalId)) missing.push({ index, field: 'itemId' });
  });
  if (missing.length > 0) return { ok: false, reason: 'missing', missing };

  const userIds = pairs.map((p) => users.get(p.userExternalId)!);
  const itemIds = pairs.map((p) => items.get(p.itemExternalId)!);
  // Locks the states in key order first (as ingest does), then removes them and logs one CLEAR
  // per state removed, in one statement.
  const { rows } = await sql.query<{ id: number; userId: number; itemId: number; previous: InteractionKind; createdAt: Date }>(
    `WITH asked AS (SELECT DISTINCT u, i FROM unnest($2::bigint[], $3::bigint[]) AS a(u, i)),
     locked AS (
       SELECT s.user_id, s.item_id FROM interaction_states s JOIN asked ON s.user_id = asked.u AND s.item_id = asked.i
        WHERE s.tenant_id = $1 ORDER BY s.user_id, s.item_id FOR UPDATE OF s),
     removed AS (
       DELETE FROM interaction_states s USING locked
        WHERE s.tenant_id = $1 AND s.user_id = locked.user_id AND s.item_id = locked.item_id
        RETURNING s.user_id, s.item_id, s.kind),
     logged AS (
       INSERT INTO interactions (tenant_id, user_id, item_id, kind)
       SELECT $1, user_id, item_id, 'CLEAR' FROM removed ORDER BY user_id, item_id
       RETURNING id, user_id, item_id, created_at)
     SELECT l.id, l.user_id AS "userId", l.item_id AS "itemId", r.kind AS previous, l.created_at AS "createdAt"
       FROM logged l JOIN removed r ON r.user_id = l.user_id AND r.item_id = l.item_id`,
    [tenantId, userIds, itemIds],
  );
  const byPair = new Map(rows.map((r) => [pairKey(r.userId, r.itemId), r]));
  return {
    ok: true,
    results: pairs.map((_, i) => {
      const r = byPair.get(pairKey(userIds[i], itemIds[i]));
      // The same pair asked twice in one call is undone once: the first asking gets the event.
      if (r) byPair.delete(pairKey(userIds[i], itemIds[i]));
      return {
        userId: userIds[i],
        itemId: itemIds[i],
        previous: r?.previous ?? null,
        event: r ? { id: r.id, userId: r.userId, itemId: r.itemId, kind: 'CLEAR', pairId: null, eventId: null, createdAt: r.createdAt } : null,
      };
    }),
  };
}

export interface HistoryPage {
  tenantId: string;
  userId: number;
  limit: number;
  /** Only rows older than this interaction id (the cursor of the last row seen). */
  beforeId?: number;
  kind?: EventKind;
}

/** A state as the model reads it: the item, like or dislike, and the event that set it. */
export interface StateRow {
  /** The interaction (event) that set the state: its order is the recency order. */
  id: number;
  itemId: number;
  kind: InteractionKind;
}

export function createInteractionRepository(db: Database) {
  return {
    /** All-or-nothing: either every event is stored (or found stored under its event id) or none. */
    async record(tenantId: string, events: readonly InteractionWrite[]): Promise<RecordOutcome> {
      try {
        return await db.withTenant(tenantId, (sql) => recordInTransaction(sql, tenantId, events));
      } catch (error) {
        if (error instanceof RollBack) return error.outcome;
        // A user or item of the call was deleted (deleteUser, deleteItems) after this call
        // found it and before it committed: the foreign key refuses the rows, all roll back.
        if ((error as { code?: string }).code === FOREIGN_KEY_VIOLATION) {
          return { ok: false, reason: 'deleted-meanwhile' };
        }
        throw error;
      }
    },

    /** Undoes each pair's state, all-or-nothing (an unknown user or item: nothing changes). */
    async clear(tenantId: string, pairs: readonly ClearWrite[]): Promise<ClearOutcome> {
      return db.withTenant(tenantId, (sql) => clearInTransaction(sql, tenantId, pairs));
    },

    /** The log, newest first: one bounded backward scan of interactions_user_kind_recent_idx per kind, merged. */
    async history(page: HistoryPage): Promise<InteractionRow[]> {
      const kinds: EventKind[] = page.kind ? [page.kind] : ['LIKE', 'DISLIKE', 'CLEAR'];
      const branches = kinds.map(
        (kind) => `(SELECT ${ROW_COLUMNS} FROM interactions
                     WHERE tenant_id = $1 AND user_id = $2 AND kind = '${kind}' AND id < $3 ORDER BY id DESC LIMIT $4)`,
      );
      return db.withTenant(page.tenantId, async (sql) => {
        const { rows } = await sql.query<InteractionRow>(`SELECT * FROM (${branches.join(' UNION ALL ')}) h ORDER BY id DESC LIMIT $4`, [
          page.tenantId,
          page.userId,
          page.beforeId ?? Number.MAX_SAFE_INTEGER,
          page.limit,
        ]);
        return rows;
      });
    },

    /** The user's current states, newest first, as the events that set them (a page of them). */
    async states(page: Omit<HistoryPage, 'kind'>): Promise<InteractionRow[]> {
      const branches = (['LIKE', 'DISLIKE'] as const).map(
        (kind) => `(SELECT interaction_id FROM interaction_states
                     WHERE tenant_id = $1 AND user_id = $2 AND kind = '${kind}' AND interaction_id < $3 ORDER BY interaction_id DESC LIMIT $4)`,
      );
      return db.withTenant(page.tenantId, async (sql) => {
        const { rows } = await sql.query<InteractionRow>(
          `SELECT ${ROW_COLUMNS} FROM interactions
            WHERE tenant_id = $1 AND id IN (SELECT interaction_id FROM (${branches.join(' UNION ALL ')}) s ORDER BY interaction_id DESC LIMIT $4)
            ORDER BY id DESC`,
          [page.tenantId, page.userId, page.beforeId ?? Number.MAX_SAFE_INTEGER, page.limit],
        );
        return rows;
      });
    },

    /** For each (user, item) pair asked, the id of the event that set its state, if it has one. */
    async currentEvents(tenantId: string, pairs: readonly { userId: number; itemId: number }[]): Promise<Map<string, number>> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ userId: number; itemId: number; id: number }>(
          `SELECT s.user_id AS "userId", s.item_id AS "itemId", s.interaction_id AS id
             FROM unnest($2::bigint[], $3::bigint[]) AS p(u, i)
             JOIN interaction_states s ON s.tenant_id = $1 AND s.user_id = p.u AND s.item_id = p.i`,
          [tenantId, pairs.map((p) => p.userId), pairs.map((p) => p.itemId)],
        );
        return new Map(rows.map((r) => [pairKey(r.userId, r.itemId), Number(r.id)]));
      });
    },

    /** Every item the user likes or dislikes now (a feed shows none of them again). */
    async ratedItemIds(tenantId: string, userId: number): Promise<Set<number>> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ itemId: number }>(`SELECT item_id AS "itemId" FROM interaction_states WHERE tenant_id = $1 AND user_id = $2`, [
          tenantId,
          userId,
        ]);
        return new Set(rows.map((r) => r.itemId));
      });
    },

    /**
     * The user's latest `perKind` likes and latest `perKind` dislikes now (the model's
     * history), newest first within each kind: two bounded backward scans of one index, no sort.
     */
    async latestByKind(tenantId: string, userId: number, perKind: number): Promise<StateRow[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<StateRow>(LATEST_BY_KIND_SQL, [tenantId, userId, perKind]);
        return rows;
      });
    },
  };
}

export const pairKey = (userId: number, itemId: number) => `${userId}:${itemId}`;

const STATE_COLUMNS = `interaction_id AS id, item_id AS "itemId", kind`;
export const LATEST_BY_KIND_SQL = `
  (SELECT ${STATE_COLUMNS} FROM interaction_states WHERE tenant_id = $1 AND user_id = $2 AND kind = 'LIKE' ORDER BY interaction_id DESC LIMIT $3)
  UNION ALL
  (SELECT ${STATE_COLUMNS} FROM interaction_states WHERE tenant_id = $1 AND user_id = $2 AND kind = 'DISLIKE' ORDER BY interaction_id DESC LIMIT $3)`;

export type InteractionRepository = ReturnType<typeof createInteractionRepository>;
