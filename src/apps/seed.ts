// npm run seed [-- --slug demo --users 300 --groups 4 --items 600 --dim 32 --seed 1]
// Loads the synthetic demo tenant into the database of DATABASE_URL / DATABASE_ADMIN_URL.
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { openDatabase } from './wiring/database.js';
import { seedDemoTenant } from './wiring/demo.js';
import { createServices } from './wiring/services.js';
import { messageOf } from '../errors.js';

async function main() {
  const { values } = parseArgs({
    options: {
      slug: { type: 'string', default: 'demo' },
      users: { type: 'string' },
      groups: { type: 'string' },
      items: { type: 'string' },
      dim: { type: 'string' },
      seed: { type: 'string' },
    },
    strict: true,
  });
  const number = (name: keyof typeof values) => (values[name] === undefined ? undefined : Number(values[name]));
  const world = Object.fromEntries(
    (['users', 'groups', 'items', 'dim', 'seed'] as const).map((k): [string, number | undefined] => [k, number(k)]).filter(([, v]) => v !== undefined),
  );
  const config = loadConfig();
  const database = await openDatabase(config);
  try {
    const seeded = await seedDemoTenant(createServices(database.db), database.adminUrl, { slug: values.slug, world });
    process.stdout.write(
      `seeded tenant "${seeded.tenant.slug}": ${seeded.items} items, ${seeded.users} users, ${seeded.interactions} interactions\n` +
        seeded.keys.map((k) => `${k.role} key (shown once): ${k.key}\n`).join(''),
    );
  } finally {
    await database.close();
  }
}

main().catch((error) => {
  process.stderr.write(`seed failed: ${messageOf(error)}\n`);
  process.exit(1);
});
