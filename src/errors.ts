// Expected errors carry a code that GraphQL clients can branch on. Anything that is not an
// AppError is a bug or an outage: the API masks it and logs it with the request id.

export const ERROR_CODES = Object.freeze({
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  /** A dependency (the database) is down or restarting: retry later. */
  UNAVAILABLE: 'UNAVAILABLE',
} as const);

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** One problem with one field of the input, e.g. `events[3].itemId`. */
export interface FieldProblem {
  readonly field: string;
  readonly message: string;
  /** Index in the input list, for batch mutations. */
  readonly index?: number;
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly problems: readonly FieldProblem[] = [],
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badInput = (message: string, problems: readonly FieldProblem[] = []) => new AppError('BAD_USER_INPUT', message, problems);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const forbidden = (message: string) => new AppError('FORBIDDEN', message);
export const unauthenticated = (message: string) => new AppError('UNAUTHENTICATED', message);

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

/**
 * Throws one BAD_USER_INPUT naming every problem found, or nothing if there are none. For a
 * write, the message says that nothing of the batch was changed; a read (`write: false`)
 * changes nothing anyway.
 */
export function throwIfProblems(what: string, problems: readonly FieldProblem[], code: ErrorCode = 'BAD_USER_INPUT', { write = true } = {}): void {
  if (problems.length === 0) return;
  const shown = problems
    .slice(0, 5)
    .map((p) => `${p.field}: ${p.message}`)
    .join('; ');
  const more = problems.length > 5 ? `; and ${problems.length - 5} more` : '';
  throw new AppError(code, `${what}: ${problems.length} invalid${write ? '; nothing was changed' : ''}. ${shown}${more}`, problems);
}

/** The message of anything thrown: an Error's message, or the thrown value as text. */
export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
