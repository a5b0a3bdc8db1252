// npm run tenant:create -- --name "Acme Images" --dim 512 [--slug acme]
// Creates a tenant and its first admin key on the owner's connection and prints the key once.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { createTenant } from '../services/tenant-admin.service.js';
import { messageOf } from '../errors.js';

async function main() {
  const { values } = parseArgs({
    options: { name: { type: 'string' }, dim: { type: 'string' }, slug: { type: 'string' } },
    strict: true,
  });
  if (!values.name || !values.dim) throw new Error('usage: npm run tenant:create -- --name "Acme Images" --dim 512 [--slug acme]');
  const config = loadConfig();
  if (!config.databaseAdminUrl) throw new Error("DATABASE_ADMIN_URL (or DATABASE_URL): set it to the owner's postgres:// URL");
  const { tenant, keys } = await createTenant(config.databaseAdminUrl, {
    name: values.name,
    slug: values.slug,
    embeddingDim: Number(values.dim),
  });
  process.stdout.write(
    `created tenant "${tenant.slug}" (${tenant.id}), embedding dimension ${tenant.embeddingDim}\n` + `admin key (shown once; store it now): ${keys[0].key}\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`tenant:create failed: ${messageOf(error)}\n`);
  process.exit(1);
});
