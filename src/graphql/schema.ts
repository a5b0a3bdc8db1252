import { readFileSync } from 'node:fs';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { resolvers } from './resolvers.js';

export const SCHEMA_PATH = new URL('../../schema.graphql', import.meta.url).pathname;

export function loadSchema() {
  return makeExecutableSchema({ typeDefs: readFileSync(SCHEMA_PATH, 'utf8'), resolvers });
}
