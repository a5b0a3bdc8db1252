// Opens the database the API runs on: the server named by DATABASE_URL, or, with none, an
// embedded PostgreSQL in this process that is migrated on start.
import type { Config } from '../../config.js';
import { redact } from '../../config.js';
import { checkRowSecurityApplies, createDatabase, type Database } from '../../repositories/database.js';
import { startEmbeddedPostgres } from '../../repositories/embedded-postgres.js';
import { migrate, pendingMigrations } from '../../repositories/migrator.js';

export const APP_ROLE = 'tastegraph_app';

export interface OpenedDatabase {
  db: Database;
  /** The owner's connection, for migrations and operator commands. */
  adminUrl: string;
  embedded: boolean;
  /** True when the embedded database was created by this start (first run). */
  fresh: boolean;
  /** Where the event bus LISTENs and NOTIFYs (the API's own connection). */
  listenUrl: string;
  close(): Promise<void>;
}

export interface DatabaseHooks {
  /** A connection was lost (in a request or idle in the pool). */
  onConnectionError?: (error: Error) => void;
}

export async function openDatabase(config: Config, hooks: DatabaseHooks = {}): Promise<OpenedDatabase> {
  if (!config.databaseUrl) {
    const embedded = await startEmbeddedPostgres(config.embeddedDataDir);
    await migrate(embedded.url);
    // PGlite has a single superuser session: switching role per transaction is what makes
    // row-level security apply to the API's queries there.
    const db = createDatabase({ connectionString: embedded.url, poolSize: 4, assumeRole: APP_ROLE, onConnectionError: hooks.onConnectionError });
    return {
      db,
      adminUrl: embedded.url,
      listenUrl: embedded.url,
      embedded: true,
      fresh: embedded.created,
      async close() {
        await db.close();
        await embedded.stop();
      },
    };
  }
  const role = await checkRowSecurityApplies(config.databaseUrl);
  if (role.bypassesRowSecurity) {
    throw new Error(
      `DATABASE_URL connects as "${role.user}", which ${role.reason} and so bypasses row-level security. ` +
        `Connect the API as ${APP_ROLE} (created by npm run db:migrate), e.g. ${redact(config.databaseUrl).replace(/\/\/[^@/]*@?/, `//${APP_ROLE}@`)}, ` +
        "and give the owner's URL to DATABASE_ADMIN_URL for migrations and operator commands.",
    );
  }
  const pending = await pendingMigrations(config.databaseUrl);
  if (pending.length > 0) {
    throw new Error(
      `the database at DATABASE_URL lacks ${pending.length} migration(s) this version needs (${pending.join(', ')}). ` +
        'Run "npm run db:migrate" with DATABASE_ADMIN_URL set to the owner\'s connection, then start again.',
    );
  }
  const db = createDatabase({ connectionString: config.databaseUrl, poolSize: config.databasePoolSize, onConnectionError: hooks.onConnectionError });
  return { db, adminUrl: config.databaseAdminUrl!, listenUrl: config.databaseUrl, embedded: false, fresh: false, close: () => db.close() };
}
