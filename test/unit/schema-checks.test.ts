// The schema checks npm run lint runs (issue 15): GraphQL Inspector against the last release,
// and graphql-schema-linter's rules. Each is shown to catch what it is there for.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script without types
import { schemaChanges } from '../../scripts/schema-check.mjs';

const run = promisify(execFile);
const current = readFileSync('schema.graphql', 'utf8');
const released = readFileSync('schema.release.graphql', 'utf8');
type Change = { level: string; message: string };

async function lint(sdl: string) {
  const file = join(mkdtempSync(join(tmpdir(), 'tg-schema-')), 'schema.graphql');
  writeFileSync(file, sdl);
  return run('npx', ['graphql-schema-linter', file]).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );
}

describe('schema checks', () => {
  it('schema.graphql breaks nothing the last release had', async () => {
    const changes = (await schemaChanges(released, current)) as Change[];
    expect(changes.filter((c) => c.level === 'BREAKING')).toEqual([]);
  });

  it('a removed field, or an enum value renamed without keeping the old, is BREAKING', async () => {
    const removed = (await schemaChanges(released, current.replace(/^ {2}"[^"\n]*"\n {2}endCursor: String$/m, ''))) as Change[];
    expect(removed).toContainEqual(expect.objectContaining({ level: 'BREAKING', message: "Field 'endCursor' was removed from object type 'PageInfo'" }));
    const renamed = (await schemaChanges(released, released.replace(/^ {2}app$/m, '  APP'))) as Change[];
    expect(renamed).toContainEqual(expect.objectContaining({ level: 'BREAKING', message: expect.stringMatching(/Enum value 'app' (was )?removed/) }));
  });

  it('the schema lints clean; a lower-case enum value or a PageInfo short of Relay fails', async () => {
    expect(await lint(current)).toMatchObject({ code: 0 });
    const lower = await lint(current.replace(/^ {2}LIKE$/m, '  like'));
    expect(lower.code).not.toBe(0);
    expect(lower.out).toMatch(/InteractionKind.like` should be uppercase/);
    const relay = await lint(current.replace(/^ {2}"[^"\n]*"\n {2}hasPreviousPage: Boolean!$/m, ''));
    expect(relay.out).toMatch(/must have a `hasPreviousPage` field/);
  });
});
