// npm run tenant:delete -- --slug acme [--yes]
// Deletes a tenant with every row, key, job and model artifact it has, and prints what it
// removed. Without --yes it prints what it would remove and changes nothing.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { deleteTenant } from '../services/tenant-admin.service.js';
import { messageOf } from '../errors.js';

async function main() {
  const { values } = parseArgs({ options: { slug: { type: 'string' }, yes: { type: 'boolean', default: false } }, strict: true });
  if (!values.slug) throw new Error('usage: npm run tenant:delete -- --slug acme [--yes]');
  const config = loadConfig();
  if (!config.databaseAdminUrl) throw new Error("DATABASE_ADMIN_URL (or DATABASE_URL): set it to the owner's postgres:// URL");
  const result = await deleteTenant(config.databaseAdminUrl, values.slug, { tenantModelStore: config.worker.tenantModelStore, confirm: values.yes });
  const verb = result.deleted ? 'removed' : 'would remove';
  const lines = [
    `${result.deleted ? 'deleted' : 'dry run: nothing deleted;'} tenant "${result.tenant.slug}" (${result.tenant.id}, "${result.tenant.name}")`,
    ...Object.entries(result.rows).map(([table, n]) => `  ${verb} ${String(n).padStart(9)} rows of ${table}`),
    `  ${verb} ${String(result.jobs).padStart(9)} jobs`,
    `  ${verb} model artifacts: ${result.artifacts ?? 'none'}`,
  ];
  if (!result.deleted) lines.push('run again with --yes to delete');
  process.stdout.write(lines.join('\n') + '\n');
  if (!result.deleted) process.exitCode = 2;
}

main().catch((error) => {
  process.stderr.write(`tenant:delete failed: ${messageOf(error)}\n`);
  process.exit(1);
});
