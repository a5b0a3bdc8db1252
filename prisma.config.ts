// Prisma's configuration (Prisma 7 reads the database URL from here, not from schema.prisma).
// The project applies prisma/migrations with its own runner (npm run db:migrate, which takes
// Prisma's advisory lock and writes _prisma_migrations as Prisma does), so where Prisma's
// schema engine can be downloaded, `prisma migrate status` and `prisma migrate deploy` accept
// the same database. The owner's URL: migrations change tables and policies.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_ADMIN_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/tastegraph' },
});
