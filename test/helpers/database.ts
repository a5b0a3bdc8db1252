// Each integration or API test file gets a database of its own on the real PostgreSQL,
// migrated from scratch, and drops it afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/repositories/migrator.js';

export const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  /** As the owner (superuser here): migrations and operator commands. */
  adminUrl: string;
  /** As tastegraph_app: what the API uses, under row-level security. */
  appUrl: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string, user?: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  if (user) {
    u.username = user;
    u.password = '';
  }
  return u.toString();
}

async function onServer(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `tg_test_${label.replace(/[^a-z0-9]/g, '_')}_${randomBytes(4).toString('hex')}`;
  await onServer(`CREATE DATABASE ${name}`);
  const adminUrl = withDatabase(SERVER_URL, name);
  await migrate(adminUrl);
  return {
    name,
    adminUrl,
    appUrl: withDatabase(SERVER_URL, name, 'tastegraph_app'),
    drop: () => onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** Runs one query as the owner, outside row-level security: for checking what is really stored. */
export async function queryAsOwner<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Row counts of every tenant table, as the owner sees them: "nothing changed" is this, equal. */
export async function tableCounts(url: string): Promise<Record<string, number>> {
  const [row] = await queryAsOwner<Record<string, number>>(
    url,
    `SELECT (SELECT count(*) FROM tenants) AS tenants, (SELECT count(*) FROM api_keys) AS api_keys,
            (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM items) AS items,
            (SELECT count(*) FROM interactions) AS interactions,
            (SELECT count(*) FROM user_erasures) AS user_erasures,
            (SELECT count(*) FROM user_embeddings) AS user_embeddings,
            (SELECT count(*) FROM taste_group_members) AS taste_group_members,
            (SELECT md5(coalesce(string_agg(id::text || embedding::text || coalesce(url, ''), ',' ORDER BY id), '')) FROM items) AS items_digest,
            (SELECT md5(coalesce(string_agg(user_id || ':' || item_id || ':' || kind || ':' || interaction_id, ',' ORDER BY user_id, item_id), '')) FROM interaction_states) AS states_digest`,
  );
  return row;
}

export interface EventRow {
  event_id: string;
  user_id: string;
  item_id: string;
  kind: string;
}

/** The interactions stored with an eventId starting with prefix, as (event, user, item, kind), by event id. */
export function storedEvents(url: string, prefix: string): Promise<EventRow[]> {
  return queryAsOwner<EventRow>(
    url,
    `SELECT i.event_id, u.external_id AS user_id, it.external_id AS item_id, i.kind FROM interactions i
       JOIN users u ON u.id = i.user_id JOIN items it ON it.id = i.item_id WHERE i.event_id LIKE $1 ORDER BY i.event_id`,
    [`${prefix}%`],
  );
}

/** What storedEvents must return for these events: each once, in event-id order. */
export function expectedEvents(events: readonly { eventId: string; userId: string; itemId: string; kind: string }[]): EventRow[] {
  return events.map((e) => ({ event_id: e.eventId, user_id: e.userId, item_id: e.itemId, kind: e.kind })).sort((x, y) => (x.event_id < y.event_id ? -1 : 1));
}
