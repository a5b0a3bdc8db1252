// Part of npm run lint: compares schema.graphql with the last release's (schema.release.graphql)
// using GraphQL Inspector, prints every change with its criticality, and fails on a breaking
// one, so that an app's queries never break silently. Dangerous changes (a new enum value, a
// changed default) are printed for the release notes and pass.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { diff } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';

/** The changes from the released schema to the current one, breaking ones first. */
export async function schemaChanges(releasedSdl, currentSdl) {
  const order = { BREAKING: 0, DANGEROUS: 1, NON_BREAKING: 2 };
  const changes = await diff(buildSchema(releasedSdl), buildSchema(currentSdl));
  return changes.map((c) => ({ level: c.criticality.level, message: c.message, reason: c.criticality.reason })).sort((a, b) => order[a.level] - order[b.level]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const changes = await schemaChanges(readFileSync('schema.release.graphql', 'utf8'), readFileSync('schema.graphql', 'utf8'));
  for (const c of changes) console.log(`${c.level.padEnd(12)} ${c.message}`);
  const breaking = changes.filter((c) => c.level === 'BREAKING');
  if (breaking.length) {
    console.error(`\nschema.graphql breaks ${breaking.length} thing(s) apps may rely on since the last release (schema.release.graphql).`);
    console.error('Add instead of changing (deprecate the old field or value and keep it for a release).');
    process.exit(1);
  }
  console.log(`schema check: ${changes.length} change(s) since the last release, none breaking`);
}
