// A promise rejected with no handler anywhere is logged and counted, and the process keeps
// serving, instead of Node's default of exiting. The case that made this necessary: pg-boss
// 10.4.2 (the newest release that supports Node 20) calls complete() on a finished job without
// awaiting it, so a failure to record the completion (the database restarting at that moment,
// or the embedded database's shared socket answering with no row) ended the whole API or jobs
// process. Such a job stays active, pg-boss expires it and runs it again, and our handlers are
// idempotent. Synchronous uncaught exceptions still end the process.
import type { Logger } from '../../logger.js';

export function surviveUnhandledRejections(log: Logger, onRejection: (error: unknown) => void): void {
  process.on('unhandledRejection', (reason) => {
    onRejection(reason);
    log.error({ err: reason }, 'a promise was rejected with no handler (logged and counted; the process carries on)');
  });
}
