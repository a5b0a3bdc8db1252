// npm run test:faults: the fault-and-load suite (test/faults). It restarts a PostgreSQL cluster
// of its own and kills processes, so it runs one file at a time, after the main suite.
import { defineConfig } from 'vitest/config';
import base from './vitest.config';

export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: base.test?.globalSetup,
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
