// Query depth and cost limits: a client may not ask for an unbounded amount of work in one
// request. Both are checked once variables are known, because `first: $n` decides how much
// a connection fans out.
import {
  GraphQLError,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';

type Fragments = Record<string, FragmentDefinitionNode>;

function fragmentsOf(document: DocumentNode): Fragments {
  const fragments: Fragments = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  return fragments;
}

/** Deepest field nesting of a selection set; fragments count as their contents. */
export function selectionDepth(set: SelectionSetNode | undefined, fragments: Fragments, seen = new Set<string>()): number {
  if (!set) return 0;
  let deepest = 0;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value.startsWith('__')) continue; // introspection is bounded by the schema
      deepest = Math.max(deepest, 1 + selectionDepth(selection.selectionSet, fragments, seen));
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      deepest = Math.max(deepest, selectionDepth(selection.selectionSet, fragments, seen));
    } else if (!seen.has(selection.name.value)) {
      const fragment = fragments[selection.name.value];
      deepest = Math.max(deepest, selectionDepth(fragment?.selectionSet, fragments, new Set(seen).add(selection.name.value)));
    }
  }
  return deepest;
}

// A connection without an explicit `first` uses the schema default of 50.
const DEFAULT_FIRST = 50;

/**
 * What one call of a field that runs the model costs on top of the fields it returns: it
 * reads the user's history and takes a place in the model's batch. Issue 10 reports that
 * 3,000 aliased one-item `score` calls held the API for 14.5 s (about 5 ms each), so a cost of 1,000 per
 * call lets one request of the default limit (50,000) make at most 50 of them.
 */
export const MODEL_CALL_COST = 1000;
/** A feed call also reads the candidate pool (newest and nearest items) and scores up to 500. */
export const FEED_CALL_COST = 2000;
const CALL_COSTS: Record<string, number> = { score: MODEL_CALL_COST, rank: MODEL_CALL_COST, feed: FEED_CALL_COST, feedUpdated: FEED_CALL_COST };

function intArgument(field: FieldNode, name: string, variables: Record<string, unknown>): number | undefined {
  const arg = field.arguments?.find((a) => a.name.value === name);
  if (!arg) return undefined;
  const value: ValueNode = arg.value;
  if (value.kind === Kind.INT) return Number(value.value);
  if (value.kind === Kind.VARIABLE) {
    const v = variables[value.name.value];
    return typeof v === 'number' ? v : undefined;
  }
  return undefined;
}

function listLength(field: FieldNode, name: string, variables: Record<string, unknown>): number | undefined {
  const arg = field.arguments?.find((a) => a.name.value === name);
  if (!arg) return undefined;
  if (arg.value.kind === Kind.LIST) return arg.value.values.length;
  if (arg.value.kind === Kind.VARIABLE) {
    const v = variables[arg.value.name.value];
    return Array.isArray(v) ? v.length : undefined;
  }
  return undefined;
}

/**
 * Estimated cost: every field returned counts 1, multiplied by the page sizes of the
 * connections around it (`first`), so `items(first: 500) { edges { node { ... } } }`
 * costs about 500 times its node; a field that runs the model adds its call cost.
 */
export function selectionCost(
  set: SelectionSetNode | undefined,
  fragments: Fragments,
  variables: Record<string, unknown>,
  seen = new Set<string>(),
  atRoot = true,
): number {
  if (!set) return 0;
  let total = 0;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FIELD) {
      // A Relay connection (it selects edges) fans out by its page size; score/rank by the ids asked.
      const isConnection = selection.selectionSet?.selections.some((s) => s.kind === Kind.FIELD && s.name.value === 'edges') ?? false;
      const isScoring = selection.name.value === 'score' || selection.name.value === 'rank';
      const fanOut = isConnection
        ? (intArgument(selection, 'first', variables) ?? DEFAULT_FIRST)
        : isScoring
          ? (listLength(selection, 'itemIds', variables) ?? 1)
          : 1;
      // Only root fields run the model (FeedUpdate.feed is the subscription's own ranking).
      const callCost = atRoot ? (CALL_COSTS[selection.name.value] ?? 0) : 0;
      total += 1 + callCost + Math.max(1, fanOut) * selectionCost(selection.selectionSet, fragments, variables, seen, false);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      total += selectionCost(selection.selectionSet, fragments, variables, seen, atRoot);
    } else if (!seen.has(selection.name.value)) {
      const fragment = fragments[selection.name.value];
      total += selectionCost(fragment?.selectionSet, fragments, variables, new Set(seen).add(selection.name.value), atRoot);
    }
  }
  return total;
}

export interface OperationLimits {
  maxDepth: number;
  maxCost: number;
}

/**
 * The depth and cost limits of one operation, once its variables are known (the cost of
 * `items(first: $n)` depends on $n). HTTP and WebSocket both call this, so the same query
 * with the same variables is refused the same way on either transport.
 */
export function operationLimitError(
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  limits: OperationLimits,
): GraphQLError | undefined {
  const reject = (message: string, code: string) => new GraphQLError(message, { extensions: { code, http: { status: 400 } } });
  const fragments = fragmentsOf(document);
  const depth = selectionDepth(operation.selectionSet, fragments);
  if (depth > limits.maxDepth) return reject(`query depth ${depth} exceeds the limit of ${limits.maxDepth}`, 'QUERY_TOO_DEEP');
  const cost = selectionCost(operation.selectionSet, fragments, variables);
  if (cost > limits.maxCost)
    return reject(`query cost ${cost} exceeds the limit of ${limits.maxCost}; ask for smaller pages or fewer calls`, 'QUERY_TOO_COSTLY');
  return undefined;
}

export function useQueryLimits(limits: OperationLimits): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request }) {
          if (!operation) return;
          const error = operationLimitError(document, operation, request.variables ?? {}, limits);
          if (error) throw error;
        },
      };
    },
  };
}
