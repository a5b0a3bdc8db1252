import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql ships CommonJS (index.js) and ESM (index.mjs). Vite would hand our sources the
    // ESM copy while Apollo, graphql-ws and graphql-tools load the CommonJS one under Node;
    // two copies mean "Cannot use GraphQLSchema from another module or realm". Node itself
    // (npm start) resolves one copy, so tests use that same one.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The fault suite restarts databases and kills processes: npm run test:faults, on its own.
    exclude: ['test/faults/**', 'node_modules/**'],
    // Apps started as processes run dist/ (npm run build): built once before any file runs.
    globalSetup: ['test/helpers/build.ts'],
    // Integration and API files each create their own database; a couple at a time suits
    // a 2-core machine and the shared PostgreSQL.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
