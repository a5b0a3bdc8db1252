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

async function resolveItems(sql: Sql, tenantId: string, externalIds: string[]): Promise<Map<string, number>> {
  const { rows } = await sql.query<{ id: number; externalId: string }>(
    `SELECT id, external_id AS "externalId" FROM items WHERE tenant_id = $1 AND external_id = ANY($2::text[])`,
    [tenantId, externalIds],
  );
  return new Map(rows.map((r) => [r.externalId, r.id]));
}

/** Creates users seen for the first time and returns the ids of all of them, in one statement. */
async function upsertUsers(sql: Sql, tenantId: string, externalIds: string[]): Promise<Map<string, number>> {
  // The outer SELECT runs on the statement's snapshot, so it sees the users that existed
  // before and the CTE returns the ones it created: together, each user exactly once.
  const { rows } = await sql.query<{ id: number; externalId: string }>(
    `WITH created AS (
       INSERT INTO users (tenant_id, external_id) SELECT $1, unnest($2::text[])
       ON CONFLICT (tenant_id, external_id) DO NOTHING
       RETURNING id, external_id)
     SELECT id, external_id AS "externalId" FROM created
     UNION ALL
     SELECT id, external_id FROM users WHERE tenant_id = $1 AND external_id = ANY($2::text[])`,
    [tenantId, externalIds],
  );
  const ids = new Map(rows.map((r) => [r.externalId, r.id]));
  // A concurrent call may have created some of these users after our snapshot was taken:
  // ON CONFLICT waited for it and skipped them, and our snapshot cannot see them. A new
  // statement gets a new snapshot (READ COMMITTED) and does.
  const missing = externalIds.filter((id) => !ids.has(id));
  if (missing.length > 0) {
    const late = await sql.query<{ id: number; externalId: string }>(
      `SELECT id, external_id AS "externalId" FROM users WHERE tenant_id = $1 AND external_id = ANY($2::text[])`,
      [tenantId, missing],
    );
    for (const r of late.rows) ids.set(r.externalId, r.id);
  }
  return ids;
}

async function recordInTransaction(sql: Sql, tenantId: string, events: readonly InteractionWrite[]): Promise<RecordOutcome> {
  const itemIds = await resolveItems(sql, tenantId, [...new Set(events.map((e) => e.itemExternalId))]);
  const unknown: FieldProblem[] = [];
  events.forEach((e, index) => {
    if (!itemIds.has(e.itemExternalId)) {
      unknown.push({ index, field: `events[${index}].itemId`, message: `unknown item "${e.itemExternalId}"` });
    }
  });
  // Another tenant's item is as unknown as a missing one: the same NOT_FOUND, nothing to probe.
  if (unknown.length > 0) return { ok: false, code: 'NOT_FOUND', problems: unknown };

  const eventIds = events.flatMap((e) => (e.eventId === null ? [] : [e.eventId]));
  const stored = await findStoredEvents(sql, tenantId, eventIds);
  const mismatched = conflicts(events, stored);
  if (mismatched.length > 0) return { ok: false, code: 'CONFLICT', problems: mismatched };

  const fresh = events.filter((e) => e.eventId === null || !stored.has(e.eventId));
  const inserted = fresh.length > 0 ? await insertFresh(sql, tenantId, fresh, itemIds) : new Map<InteractionWrite, InteractionRow>();

  // A concurrent call may have stored one of our event ids after we looked: ON CONFLICT
  // skipped it, so read what that call stored and hold it to the same rule.
  const raced = fresh.filter((e) => !inserted.has(e)).map((e) => e.eventId!);
  if (raced.length > 0) {
    for (const [id, row] of await findStoredEvents(sql, tenantId, raced)) stored.set(id, row);
    const late = conflicts(events, stored);
    if (late.length > 0) throw new RollBack({ ok: false, code: 'CONFLICT', problems: late });
  }
  return {
    ok: true,
    interactions: events.map((e) => {
      const row = inserted.get(e) ?? stored.get(e.eventId!)!;
      return toRow(row);
    }),
  };
}

const toRow = (r: InteractionRow): InteractionRow => ({
  id: r.id, userId: r.userId, itemId: r.itemId, kind: r.kind, pairId: r.pairId, eventId: r.eventId, createdAt: r.createdAt,
});

async function insertFresh(
  sql: Sql,
  tenantId: string,
  fresh: InteractionWrite[],
  itemIds: Map<string, number>,
): Promise<Map<InteractionWrite, InteractionRow>> {
  const userIds = await upsertUsers(sql, tenantId, [...new Set(fresh.map((e) => e.userExternalId))]);
  const { rows } = await sql.query<InteractionRow>(
    `INSERT INTO interactions (tenant_id, user_id, item_id, kind, pair_id, event_id)
     SELECT $1, u, i, k, p, e
       FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS t(u, i, k, p, e, n)
      ORDER BY n
     ON CONFLICT (tenant_id, event_id) DO NOTHING
     RETURNING ${ROW_COLUMNS}`,
    [
      tenantId,
      fresh.map((e) => userIds.get(e.userExternalId)!),
      fresh.map((e) => itemIds.get(e.itemExternalId)!),
      fresh.map((e) => e.kind),
      fresh.map((e) => e.pairId),
      fresh.map((e) => e.eventId),
    ],
  );
  // Rows come back with identity ids drawn in ORDER BY n order, so ascending ids follow the
  // input order; RETURNING itself promises no order. Events with an id match by that id.
  const byEventId = new Map(rows.filter((r) => r.eventId !== null).map((r) => [r.eventId!, r]));
  const anonymous = rows.filter((r) => r.eventId === null).sort((a, b) => a.id - b.id);
  const result = new Map<InteractionWrite, InteractionRow>();
  let next = 0;
  for (const e of fresh) {
    const row = e.eventId === null ? anonymous[next++] : byEventId.get(e.eventId);
    if (row) result.set(e, row);
  }
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
