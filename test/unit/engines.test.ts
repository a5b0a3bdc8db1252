// Every installed package must run on the oldest Node this project declares, so that `npm ci`
// prints no engine warnings and nothing fails on a Node the README says is enough (issue 15).
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
  packages: Record<string, { engines?: { node?: string } | string[] }>;
};

describe('Node engines', () => {
  it('the declared range starts at a version this machine satisfies', () => {
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });

  it('every locked package accepts the oldest Node the project declares', () => {
    const oldest = semver.minVersion(pkg.engines.node)!.version;
    const refusing = Object.entries(lock.packages)
      .filter(([path, meta]) => path !== '' && meta.engines && !Array.isArray(meta.engines) && meta.engines.node)
      .filter(([, meta]) => !semver.satisfies(oldest, (meta.engines as { node: string }).node))
      .map(([path, meta]) => `${path} wants node ${(meta.engines as { node: string }).node}`);
    expect(refusing, `the project declares node ${pkg.engines.node}`).toEqual([]);
  });
});
