// The connection pool and the one way to run queries: inside a transaction scoped to a tenant.
// Row-level security reads the tenant from the transaction-local setting app.tenant_id, so a
// query can never run "between tenants", and a pooled connection carries nothing over.
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { classifyStorageError } from './storage-errors.js';

export type Sql = Pick<pg.PoolClient, 'query'>;

export interface Database {
  /**
   * Runs fn in one transaction that sees only tenantId's rows; commits if fn resolves.
   * Called inside another withTenant for the same tenant (directly or through repositories),
   * it joins that transaction instead of opening one, so a service can make several
   * repository reads in one round of BEGIN and COMMIT.
   */
  withTenant<T>(tenantId: string, fn: (sql: Sql) => Promise<T>): Promise<T>;
  /**
   * Like withTenant, in one REPEATABLE READ, READ ONLY transaction of its own: every query
   * sees the same snapshot, so a long export reads a consistent state (items counted before
   * they are streamed, interactions that name only items it also read).
   */
  withTenantSnapshot<T>(tenantId: string, fn: (sql: Sql) => Promise<T>): Promise<T>;
  /** Runs fn in one transaction with no tenant set: every tenant table looks empty. */
  withoutTenant<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  /** The pool now: connections open, those in use, and requests waiting for one (metrics). */
  poolStats(): PoolStats;
  close(): Promise<void>;
}

export interface PoolStats {
  open: number;
  inUse: number;
  waiting: number;
}

export interface DatabaseOptions {
  connectionString: string;
  poolSize: number;
  /**
   * A role to switch to at the start of every transaction. Only for the embedded database,
   * whose single session is a superuser: SET LOCAL ROLE makes row-level security apply.
   * A real server is reached as tastegraph_app directly and leaves this unset.
   */
  assumeRole?: string;
  /** How long a request waits for a connection before failing as unavailable (ms). */
  connectTimeoutMs?: number;
  /**
   * Told of every connection the pool lost outside a request (server restart, killed
   * backend): the pool drops such a connection and opens another when needed.
   */
  onConnectionError?: (error: Error) => void;
}

interface Scope {
  tenantId: string;
  client: pg.PoolClient;
  open: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

// bigint ids (identity columns, counts) arrive as strings by default; they stay far below
// 2^53 here and the code treats them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export function createDatabase(options: DatabaseOptions): Database {
  if (options.assumeRole !== undefined && !IDENTIFIER.test(options.assumeRole)) {
    throw new Error(`assumeRole: expected a plain role name, got "${options.assumeRole}"`);
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize,
    // Without a bound, a request waits forever for a server that accepts TCP but never answers.
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    // pg closes idle connections after 10 s by default; under uneven load that meant opening
    // new ones all the time, and a new backend's first queries (fork, catalog caches, the
    // policies) are slow. Kept for 5 minutes instead.
    idleTimeoutMillis: 5 * 60_000,
  });
  // An idle client that errors (server restart) must not crash the process; the pool drops it.
  pool.on('error', (error) => options.onConnectionError?.(error));
  const roleStatement = options.assumeRole ? `SET LOCAL ROLE ${options.assumeRole};` : '';
  // The transaction the current async call chain runs in, for nested withTenant calls to join.
  // `open` turns false as soon as fn settles: work that fn started but did not await (a
  // background refresh) must not reach a connection that is about to commit and go back to
  // the pool, where another request, perhaps of another tenant, would get it; it opens its
  // own transaction instead.
  const current = new AsyncLocalStorage<Scope>();

  /** The enclosing transaction's connection for a joined call; a query after it ended fails instead of running on a pooled connection. */
  function joined(scope: Scope): Sql {
    return {
      query: ((...args: Parameters<Sql['query']>) => {
        if (!scope.open) return Promise.reject(new Error('query after the enclosing transaction ended'));
        return (scope.client.query as (...a: unknown[]) => unknown)(...args);
      }) as Sql['query'],
    };
  }

  async function transaction<T>(tenantId: string, fn: (sql: Sql) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw classifyStorageError(error);
    }
    // While a client is checked out the pool listens to it no more: a connection killed
    // mid-transaction (restart, failover, pg_terminate_backend) emits 'error' with no listener,
    // which crashes the process. The query in flight rejects with the same error; this only
    // keeps the event from being unhandled and marks the connection as not to be reused.
    let lost: Error | undefined;
    const onLost = (error: Error) => {
      lost = error;
      options.onConnectionError?.(error);
    };
    client.on('error', onLost);
    const release = (destroy: boolean) => {
      client.off('error', onLost);
      client.release(destroy || lost !== undefined);
    };
    const scope: Scope = { tenantId, client, open: true };
    let committing = false;
    try {
      // One round trip to open the transaction; tenantId is interpolated only after the
      // UUID check above it, so this cannot inject SQL.
      await client.query(`${begin}; ${roleStatement} SELECT set_config('app.tenant_id', '${tenantId}', true)`);
      let result: T;
      try {
        result = await current.run(scope, () => fn(client));
      } finally {
        scope.open = false;
      }
      committing = true;
      await client.query('COMMIT');
      release(false);
      return result;
    } catch (error) {
      if (lost) {
        release(true);
      } else {
        try {
          await client.query('ROLLBACK');
          release(false);
        } catch {
          release(true); // the connection is unusable: destroy it rather than reuse it
        }
      }
      throw classifyStorageError(error, { duringCommit: committing });
    }
  }

  return {
    withTenant(tenantId, fn) {
      if (!UUID.test(tenantId)) return Promise.reject(new Error(`tenantId: expected a UUID, got "${tenantId}"`));
      const enclosing = current.getStore();
      if (enclosing?.open && enclosing.tenantId === tenantId) return fn(joined(enclosing));
      return transaction(tenantId, fn);
    },
    withTenantSnapshot(tenantId, fn) {
      if (!UUID.test(tenantId)) return Promise.reject(new Error(`tenantId: expected a UUID, got "${tenantId}"`));
      return transaction(tenantId, fn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    },
    withoutTenant(fn) {
      return transaction('', fn);
    },
    poolStats: () => ({ open: pool.totalCount, inUse: pool.totalCount - pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}

/**
 * One transaction on the owner's connection (DATABASE_ADMIN_URL), for operator commands that
 * row-level security rightly forbids to the API's role, such as creating a tenant.
 */
export async function withOwnerTransaction<T>(connectionString: string, fn: (owner: pg.ClientBase) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

export interface RoleCheck {
  user: string;
  bypassesRowSecurity: boolean;
  reason?: string;
}

/** Tells whether a connection's role would see through row-level security (superuser, BYPASSRLS or table owner). */
export async function checkRowSecurityApplies(connectionString: string): Promise<RoleCheck> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ user: string; super: boolean; bypass: boolean; owns: boolean }>(
      `SELECT current_user AS user, r.rolsuper AS super, r.rolbypassrls AS bypass,
              EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = 'public' AND t.tablename = 'items'
                       AND pg_has_role(current_user, t.tableowner, 'USAGE')) AS owns
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    const r = rows[0];
    const reason = r.super ? 'is a superuser' : r.bypass ? 'has BYPASSRLS' : r.owns ? 'owns the tables' : undefined;
    return { user: r.user, bypassesRowSecurity: reason !== undefined, reason };
  } finally {
    await client.end();
  }
}
