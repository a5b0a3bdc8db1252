import { buildSchema, parse, validate, Kind, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { FEED_CALL_COST, MODEL_CALL_COST, operationLimitError, selectionCost, selectionDepth } from '../../src/graphql/plugins/limits.js';
import { readFileSync } from 'node:fs';
import { SCHEMA_PATH } from '../../src/graphql/schema.js';

const schema = buildSchema(readFileSync(SCHEMA_PATH, 'utf8'));
const operation = (query: string) => parse(query).definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;

describe('query depth', () => {
  it('counts nested fields, through fragments', () => {
    const doc = parse('query { user(externalId: "u") { ...H } } fragment H on User { history { edges { node { item { externalId } } } } }');
    const fragments = { H: doc.definitions[1] as never };
    expect(selectionDepth((doc.definitions[0] as OperationDefinitionNode).selectionSet, fragments)).toBe(6);
  });

  it('rejects a query deeper than the limit with QUERY_TOO_DEEP', () => {
    const deep = parse('{ user(externalId: "u") { history { edges { node { user { history { edges { node { kind } } } } } } } } }');
    expect(validate(schema, deep)).toHaveLength(0);
    const op = deep.definitions[0] as OperationDefinitionNode;
    const error = operationLimitError(deep, op, {}, { maxDepth: 6, maxCost: 1e9 });
    expect(error?.message).toBe('query depth 9 exceeds the limit of 6');
    expect(error?.extensions.code).toBe('QUERY_TOO_DEEP');
    expect(operationLimitError(deep, op, {}, { maxDepth: 10, maxCost: 1e9 })).toBeUndefined();
  });
});

describe('query cost', () => {
  it('multiplies by the page size, from literals, variables or the default', () => {
    const q = 'query($n: Int!) { items(first: $n) { edges { node { externalId prompt } } } }';
    const cost = (n: number) => selectionCost(operation(q).selectionSet, {}, { n });
    expect(cost(10)).toBe(1 + 10 * (1 + 1 * (1 + 1 + 1)));
    expect(cost(500)).toBeGreaterThan(cost(10) * 40);
    const nested = operation('{ items { edges { node { externalId } } } user(externalId: "u") { history(first: 100) { edges { node { kind } } } } }');
    expect(selectionCost(nested.selectionSet, {}, {})).toBe(1 + 50 * 3 + 1 + (1 + 100 * 3));
  });

  it('multiplies score and rank by the number of items asked, and adds the model call', () => {
    const q = operation('query($ids: [ID!]!) { rank(userId: "u", itemIds: $ids) { degraded items { score item { externalId } } } }');
    const perItem = 1 + (1 + 1 + (1 + 1)); // degraded; items { score item { externalId } }
    expect(selectionCost(q.selectionSet, {}, { ids: ['a', 'b', 'c'] })).toBe(1 + MODEL_CALL_COST + 3 * perItem);
  });

  it('charges every aliased model call, so many cheap calls cost what they take', () => {
    const calls = Array.from({ length: 60 }, (_, i) => `s${i}: score(userId: "u", itemIds: ["a"]) { degraded }`).join(' ');
    expect(selectionCost(operation(`{ ${calls} }`).selectionSet, {}, {})).toBe(60 * (1 + MODEL_CALL_COST + 1));
    // The feed inside a subscription's update is that subscription's one ranking, not another call.
    const sub = operation('subscription { feedUpdated(userId: "u") { reason feed { edges { node { rank } } } } }');
    expect(selectionCost(sub.selectionSet, {}, {})).toBe(1 + FEED_CALL_COST + (1 + (1 + 50 * (1 + (1 + 1)))));
  });
});
