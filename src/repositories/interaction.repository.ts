import type { FieldProblem } from '../errors.js';
import type { Database, Sql } from './database.js';

export type InteractionKind = 'LIKE' | 'DISLIKE';

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
  kind: InteractionKind;
  pairId: string | null;
  eventId: string | null;
  createdAt: Date;
}

export type RecordOutcome =
  | { ok: true; interactions: InteractionRow[] }
  | { ok: false; code: 'NOT_FOUND' | 'CONFLICT'; problems: FieldProblem[] };

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

function conflicts(events: readonly InteractionWrite[], stored: Map<string, StoredEvent>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  events.forEach((event, index) => {
    const previous = event.eventId === null ? undefined : stored.get(event.eventId);
    if (previous && !sameEvent(previous, event)) {
      problems.push({
        index,
        field: `events[${index}].eventId`,
        message: `"${event.eventId}" was already recorded for a different event (user "${previous.userExternalId}", item "${previous.itemExternalId}", ${previous.kind})`,
      });
    }
  });
  return problems;
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
  const ids = await resolveIds(
    sql,
    tenantId,
    [...new Set(events.map((e) => e.userExternalId))],
    [...new Set(events.map((e) => e.itemExternalId))],
  );
  const unknown: FieldProblem[] = [];
  events.forEach((e, index) => {
    if (!ids.items.has(e.itemExternalId)) {
      unknown.push({ index, field: `events[${index}].itemId`, message: `unknown item "${e.itemExternalId}"` });
    }
  });
  // Another tenant's item is as unknown as a missing one: the same NOT_FOUND, nothing to probe.
  if (unknown.length > 0) throw new RollBack({ ok: false, code: 'NOT_FOUND', problems: unknown });

  const stored = await insertNew(sql, tenantId, events, ids);

  // Events that ON CONFLICT skipped were stored before (by an earlier try of this call, or
  // by a concurrent one): read them, and hold them to the same event, or roll all back.
  const skipped = events.filter((e) => !stored.has(e)).map((e) => e.eventId!);
  if (skipped.length > 0) {
    const previous = await findStoredEvents(sql, tenantId, skipped);
    const mismatched = conflicts(events, previous);
    if (mismatched.length > 0) throw new RollBack({ ok: false, code: 'CONFLICT', problems: mismatched });
    for (const e of events) if (!stored.has(e)) stored.set(e, toRow(previous.get(e.eventId!)!));
  }
  return { ok: true, interactions: events.map((e) => stored.get(e)!) };
}

const toRow = (r: InteractionRow): InteractionRow => ({
  id: r.id, userId: r.userId, itemId: r.itemId, kind: r.kind, pairId: r.pairId, eventId: r.eventId, createdAt: r.createdAt,
});

/**
 * Inserts every event whose eventId is not stored yet, in one statement, and returns the
 * rows it stored by event. Optimistic on purpose: a retry is the rare case, so looking up
 * event ids first would cost every call a query to save a few calls one.
 */
async function insertNew(
  sql: Sql,
  tenantId: string,
  events: readonly InteractionWrite[],
  ids: ResolvedIds,
): Promise<Map<InteractionWrite, InteractionRow>> {
  const users = events.map((e) => ids.users.get(e.userExternalId)!);
  const items = events.map((e) => ids.items.get(e.itemExternalId)!);
  const { rows } = await sql.query<{ id: number; eventId: string | null; createdAt: Date }>(
    `INSERT INTO interactions (tenant_id, user_id, item_id, kind, pair_id, event_id)
     SELECT $1, u, i, k, p, e
       FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS t(u, i, k, p, e, n)
      ORDER BY n
     ON CONFLICT (tenant_id, event_id) DO NOTHING
     RETURNING id, event_id AS "eventId", created_at AS "createdAt"`,
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

export interface HistoryPage {
  tenantId: string;
  userId: number;
  limit: number;
  /** Only interactions older than this id (the cursor of the last row seen). */
  beforeId?: number;
  kind?: InteractionKind;
}

export function createInteractionRepository(db: Database) {
  return {
    /** All-or-nothing: either every event is stored (or found stored under its event id) or none. */
    async record(tenantId: string, events: readonly InteractionWrite[]): Promise<RecordOutcome> {
      try {
        return await db.withTenant(tenantId, (sql) => recordInTransaction(sql, tenantId, events));
      } catch (error) {
        if (error instanceof RollBack) return error.outcome;
        throw error;
      }
    },

    /** Newest first: one bounded backward scan of interactions_user_kind_recent_idx per kind, merged. */
    async history(page: HistoryPage): Promise<InteractionRow[]> {
      const kinds: InteractionKind[] = page.kind ? [page.kind] : ['LIKE', 'DISLIKE'];
      const branches = kinds.map(
        (kind) => `(SELECT ${ROW_COLUMNS} FROM interactions
                     WHERE tenant_id = $1 AND user_id = $2 AND kind = '${kind}' AND id < $3 ORDER BY id DESC LIMIT $4)`,
      );
      return db.withTenant(page.tenantId, async (sql) => {
        const { rows } = await sql.query<InteractionRow>(
          `SELECT * FROM (${branches.join(' UNION ALL ')}) h ORDER BY id DESC LIMIT $4`,
          [page.tenantId, page.userId, page.beforeId ?? Number.MAX_SAFE_INTEGER, page.limit],
        );
        return rows;
      });
    },

    /** Every item the user has liked or disliked (a feed shows none of them again). */
    async ratedItemIds(tenantId: string, userId: number): Promise<Set<number>> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<{ itemId: number }>(
          `SELECT DISTINCT item_id AS "itemId" FROM interactions WHERE tenant_id = $1 AND user_id = $2`,
          [tenantId, userId],
        );
        return new Set(rows.map((r) => r.itemId));
      });
    },

    /**
     * The user's latest `perKind` likes and latest `perKind` dislikes (the model's history),
     * newest first within each kind: two bounded backward scans of one index, no sort.
     */
    async latestByKind(tenantId: string, userId: number, perKind: number): Promise<InteractionRow[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<InteractionRow>(LATEST_BY_KIND_SQL, [tenantId, userId, perKind]);
        return rows;
      });
    },
  };
}

export const LATEST_BY_KIND_SQL = `
  (SELECT ${ROW_COLUMNS} FROM interactions WHERE tenant_id = $1 AND user_id = $2 AND kind = 'LIKE' ORDER BY id DESC LIMIT $3)
  UNION ALL
  (SELECT ${ROW_COLUMNS} FROM interactions WHERE tenant_id = $1 AND user_id = $2 AND kind = 'DISLIKE' ORDER BY id DESC LIMIT $3)`;

export type InteractionRepository = ReturnType<typeof createInteractionRepository>;
