// Finding a user's rows in every table the schema has, from the catalog, so that a table added
// later is checked too: by a column that references users, a column named user_id, an array of
// user ids, or any column whose text holds the user's external id.
import { queryAsOwner } from './database.js';

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The tenant's rows naming the user, per table with a tenant_id column (the tenant tables). */
export async function rowsNaming(adminUrl: string, tenantId: string, userId: number, externalId: string): Promise<Record<string, number>> {
  const columns = await queryAsOwner<{ table: string; column: string; type: string; references_users: boolean }>(
    adminUrl,
    `SELECT c.table_name AS table, c.column_name AS column, c.udt_name AS type,
            EXISTS (SELECT 1 FROM pg_constraint k
                     WHERE k.contype = 'f' AND k.conrelid = format('public.%I', c.table_name)::regclass
                       AND k.confrelid = 'public.users'::regclass
                       AND c.ordinal_position = ANY(k.conkey)) AS references_users
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
      WHERE c.table_schema = 'public'
        AND c.table_name IN (SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id')
      ORDER BY 1, 2`,
  );
  const tables = [...new Set(columns.map((c) => c.table))];
  // The external id as a whole value in the row's text form: "user-5" must not match "user-50".
  const word = `(^|[^A-Za-z0-9_-])${escapeRegex(externalId)}($|[^A-Za-z0-9_-])`;
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const own = columns.filter((c) => c.table === table);
    const byId = [
      ...own.filter((c) => c.references_users || (c.column === 'user_id' && c.type === 'int8')).map((c) => `t."${c.column}" = $3`),
      ...own.filter((c) => c.type === '_int8').map((c) => `$3::bigint = ANY(t."${c.column}")`),
      ...(table === 'users' ? ['t.id = $3'] : []),
    ];
    const where = `t.tenant_id = $1 AND (${['t::text ~ $2', ...byId].join(' OR ')})`;
    const [{ n }] = await queryAsOwner<{ n: number }>(
      adminUrl,
      `SELECT count(*)::int AS n FROM "${table}" t WHERE ${where}`,
      byId.length ? [tenantId, word, userId] : [tenantId, word],
    );
    counts[table] = n;
  }
  return counts;
}
