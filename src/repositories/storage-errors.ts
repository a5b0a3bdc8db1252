// Storage errors the layers above can act on. A lost or refused connection is an outage, not
// a bug: the request may be retried once the database is back, so it is told apart here,
// where the driver's errors are known, and the API answers it as UNAVAILABLE.

/** The database could not be reached, or the connection was lost during the transaction. */
export type UnavailableKind = 'refused' | 'lost' | 'timeout' | 'not-accepting';

export class DatabaseUnavailableError extends Error {
  constructor(
    /** The driver's words, for the log (they name hosts and ports: not for clients). */
    readonly reason: string,
    options?: { cause?: unknown },
    /**
     * Whether the transaction's writes may have committed: only when the connection was lost
     * while COMMIT was on its way, so the server may have committed without answering.
     */
    readonly mayHaveCommitted = false,
  ) {
    super(`database unavailable: ${reason}`, options);
    this.name = 'DatabaseUnavailableError';
  }

  /** What happened, in words fit for a client: refused, lost, timed out, or not accepting. */
  get kind(): UnavailableKind {
    const code = (this.cause as { code?: unknown } | undefined)?.code;
    if (code === 'ECONNREFUSED') return 'refused';
    if (code === 'ETIMEDOUT' || /timeout/i.test(this.reason)) return 'timeout';
    if (code === '57P03' || code === '53300') return 'not-accepting';
    return 'lost';
  }
}

export const isDatabaseUnavailable = (error: unknown): error is DatabaseUnavailableError => error instanceof DatabaseUnavailableError;

// SQLSTATE classes and codes that mean "the server went away or is not taking connections":
// 08 connection exceptions; 57P01 admin shutdown (restart, pg_terminate_backend), 57P02 crash
// shutdown, 57P03 cannot connect now (starting up, shutting down).
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_SYSTEM_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// What pg says when a connection dies without a SQLSTATE, or a pool waits too long.
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'connection error and is not queryable',
  'timeout exceeded when trying to connect',
  'Client was closed and is not queryable',
];

/** Why an error means the database is unavailable, or undefined when it is anything else. */
export function unavailableReason(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || UNAVAILABLE_CODES.has(code)) return `${code}: ${error.message}`;
    if (UNAVAILABLE_SYSTEM_CODES.has(code)) return `${code} (${error.message})`;
  }
  if (UNAVAILABLE_MESSAGES.some((m) => error.message.includes(m))) return error.message;
  return undefined;
}

/** The error to throw: a DatabaseUnavailableError for an outage, the error itself otherwise. */
export function classifyStorageError(error: unknown, { duringCommit = false } = {}): unknown {
  if (isDatabaseUnavailable(error)) return error;
  const reason = unavailableReason(error);
  return reason === undefined ? error : new DatabaseUnavailableError(reason, { cause: error }, duringCommit);
}
