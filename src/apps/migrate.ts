// npm run db:migrate: applies prisma/migrations to DATABASE_ADMIN_URL (or DATABASE_URL), and
// sets the API role's password from APP_DB_PASSWORD when given.
import { loadConfig, redact } from '../config.js';
import { APP_ROLE } from './wiring/database.js';
import { migrate, setAppRolePassword } from '../repositories/migrator.js';
import { messageOf } from '../errors.js';

async function main() {
  const config = loadConfig();
  if (!config.databaseAdminUrl) {
    throw new Error("DATABASE_ADMIN_URL (or DATABASE_URL): set it to the owner's postgres:// URL; the embedded database migrates itself on start");
  }
  const applied = await migrate(config.databaseAdminUrl);
  if (config.appDbPassword) await setAppRolePassword(config.databaseAdminUrl, APP_ROLE, config.appDbPassword);
  process.stdout.write(`${redact(config.databaseAdminUrl)}: ${applied.length ? `applied ${applied.join(', ')}` : 'already up to date'}\n`);
}

main().catch((error) => {
  process.stderr.write(`db:migrate failed: ${messageOf(error)}\n`);
  process.exit(1);
});
