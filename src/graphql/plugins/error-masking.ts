// Expected errors (AppError) reach the client with their code and field problems. Anything
// else is a bug or an outage: the client sees a generic message with the request id, and
// the full error goes to the log under that id.
import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { isAppError } from '../../errors.js';
import { isRateLimited } from '../../services/rate-limits.js';
import { isDatabaseUnavailable, type DatabaseUnavailableError } from '../../services/storage-status.js';
import type { Context } from '../context.js';
import { QUERY_TOO_LARGE } from './document-limits.js';

export const INTERNAL_ERROR = 'INTERNAL_SERVER_ERROR';

// Codes that graphql-js and Apollo give to problems with the request itself.
const CLIENT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'QUERY_TOO_DEEP',
  'QUERY_TOO_COSTLY',
  QUERY_TOO_LARGE,
  'UNAUTHENTICATED',
]);

const KIND_WORDS = {
  refused: 'connection refused',
  lost: 'connection lost',
  timeout: 'connection timed out',
  'not-accepting': 'not accepting connections: starting up, shutting down or full',
} as const;

/** What a client is told of an outage: retry, and whether its write may have been stored. */
export function unavailableMessage(error: DatabaseUnavailableError): string {
  const stored = error.mayHaveCommitted
    ? 'the connection was lost while committing, so the write may have been stored: retry it with the same eventIds (a retry stores nothing twice)'
    : 'any writes of this operation were rolled back';
  return `the database is unavailable (${KIND_WORDS[error.kind]}); ${stored}. Retry shortly.`;
}

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (isDatabaseUnavailable(original)) {
    return {
      message: unavailableMessage(original),
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'UNAVAILABLE', retryable: true },
    };
  }
  if (isAppError(original)) {
    const problems = original.problems.length ? { problems: original.problems } : {};
    const retry = isRateLimited(original) ? { retryAfterSeconds: original.retryAfterSeconds } : {};
    return { message: original.message, locations: formatted.locations, path: formatted.path, extensions: { code: original.code, ...problems, ...retry } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && CLIENT_CODES.has(code)) return formatted;
  return { message: 'Internal server error', path: formatted.path, extensions: { code: INTERNAL_ERROR } };
}

/** Logs the unexpected errors that formatError masks, and stamps the request id on them. */
export function useErrorLogging(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            const original = unwrapResolverError(error);
            const code = error.extensions?.code;
            if (isAppError(original) || (typeof code === 'string' && CLIENT_CODES.has(code))) continue;
            if (isDatabaseUnavailable(original)) {
              contextValue?.log?.warn({ err: original, path: error.path }, 'GraphQL operation failed: database unavailable');
              continue;
            }
            contextValue?.log?.error({ err: original, path: error.path }, 'unexpected error in GraphQL operation');
          }
        },
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          // An outage answers 503 with Retry-After, so HTTP clients and proxies retry it as such.
          if (response.body.singleResult.errors?.some((e) => e.extensions?.code === 'UNAVAILABLE')) {
            response.http.status = 503;
            response.http.headers.set('retry-after', '1');
          }
          for (const error of response.body.singleResult.errors ?? []) {
            if (error.extensions?.code === INTERNAL_ERROR && contextValue?.requestId) {
              (error.extensions as Record<string, unknown>).requestId = contextValue.requestId;
            }
          }
        },
      };
    },
  };
}
