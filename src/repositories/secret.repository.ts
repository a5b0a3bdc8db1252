import type { Database } from './database.js';

export function createSecretRepository(db: Database) {
  return {
    /** A secret made by a migration; throws when the database lacks it. */
    async read(name: string): Promise<Buffer> {
      return db.withoutTenant(async (sql) => {
        const { rows } = await sql.query<{ value: Buffer }>('SELECT value FROM app_secrets WHERE name = $1', [name]);
        if (!rows[0]) throw new Error(`app_secrets has no "${name}": run npm run db:migrate`);
        return rows[0].value;
      });
    },
  };
}

export type SecretRepository = ReturnType<typeof createSecretRepository>;
