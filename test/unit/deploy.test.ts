// deploy/ cannot run here (no Docker engine); check what can be checked without one.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

describe('deploy/compose.yaml', () => {
  const compose = parse(readFileSync('deploy/compose.yaml', 'utf8'));

  it('runs postgres, the migrations and the API, in that order', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'migrate', 'postgres']);
    expect(compose.services.migrate.depends_on.postgres.condition).toBe('service_healthy');
    expect(compose.services.api.depends_on.migrate.condition).toBe('service_completed_successfully');
  });

  it('connects the API as the role row-level security applies to, and migrates as the owner', () => {
    expect(compose.services.api.environment.DATABASE_URL).toMatch(/^postgres:\/\/tastegraph_app:/);
    expect(compose.services.migrate.environment.DATABASE_ADMIN_URL).toMatch(/^postgres:\/\/postgres:/);
  });

  it('builds from a Dockerfile that exists and starts the API entry point', () => {
    const dockerfile = readFileSync(compose.services.api.build.dockerfile, 'utf8');
    expect(dockerfile).toMatch(/CMD \["node", "--import", "tsx", "src\/apps\/api.ts"\]/);
    expect(dockerfile).toMatch(/ENV NODE_ENV=production/);
  });
});
