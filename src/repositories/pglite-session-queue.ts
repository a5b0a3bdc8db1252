// PGlite is a single PostgreSQL session; pglite-socket lets many connections share it by
// queueing their protocol messages one at a time. Its own queue (0.2.17, upstream issue
// electric-sql/pglite#1046, open) has two defects that hung `npm start` under load:
// - Outside a transaction it takes the next message from any connection, so one connection's
//   Parse or simple Query lands between another's Parse and Bind. The unnamed prepared
//   statement is replaced or dropped ("unnamed prepared statement does not exist", or the wrong
//   statement bound), and after that error the session ignores every message until a Sync,
//   whichever connection sent it: the other connection's client then waits for ever.
// - One message that throws leaves its `processing` flag set, and nothing is processed again.
// This queue replaces it (same interface, installed on the server before it starts): a
// connection owns the session from its first message until the session is idle again (after
// its Sync or simple Query, outside a transaction), a failure rejects only its own message,
// and a connection that leaves mid-batch or mid-transaction gets its batch synced and its
// transaction rolled back before anyone else goes on.
// Not handled: COPY FROM STDIN (its data messages follow a Query); nothing here uses it.
import type { PGlite } from '@electric-sql/pglite';

/** Frontend messages that leave an extended-protocol batch open until the connection's Sync. */
const BATCH_MESSAGES = new Set(['P', 'B', 'D', 'E', 'C', 'H'].map((c) => c.charCodeAt(0)));
const SYNC = Uint8Array.from([0x53, 0, 0, 0, 4]);
const ROLLBACK = simpleQuery('ROLLBACK');

interface Item {
  handlerId: number;
  message: Uint8Array | 'release';
  resolve: (bytes: number) => void;
  reject: (error: Error) => void;
  onData: (data: Uint8Array) => void;
}

export class PgliteSessionQueue {
  private queue: Item[] = [];
  private processing = false;
  /** The connection whose batch or transaction is open in the session; null when it is idle. */
  private owner: number | null = null;
  /** The owner sent batch messages and no Sync yet. */
  private batchOpen = false;
  /** The connection whose message is running now. */
  private current: number | null = null;

  constructor(private readonly db: PGlite) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ handlerId, message, resolve, reject, onData });
      void this.processQueue();
    });
  }

  getQueueLength(): number {
    return this.queue.length;
  }

  /** The connection left: its waiting messages are refused. */
  clearQueueForHandler(handlerId: number): void {
    const mine = this.queue.filter((q) => q.handlerId === handlerId && q.message !== 'release');
    this.queue = this.queue.filter((q) => !mine.includes(q));
    for (const q of mine) q.reject(new Error('Handler disconnected'));
  }

  /** The connection left: if the session is its (a batch or a transaction open), end that first. */
  clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.owner !== handlerId && this.current !== handlerId) return Promise.resolve();
    return new Promise((resolve) => {
      // At the front: while the connection owns the session only its items are taken, and this
      // is the last. It never rejects: its caller, the handler's detach, is also run unawaited
      // when the server stops, and the way it fails is PGlite closing under it at that stop.
      this.queue.unshift({ handlerId, message: 'release', resolve: () => resolve(), reject: () => resolve(), onData: () => {} });
      void this.processQueue();
    });
  }

  private next(): Item | undefined {
    if (this.owner === null) return this.queue.shift();
    const i = this.queue.findIndex((q) => q.handlerId === this.owner);
    return i === -1 ? undefined : this.queue.splice(i, 1)[0];
  }

  private async processQueue(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      for (let item = this.next(); item; item = this.next()) {
        this.current = item.handlerId;
        try {
          item.resolve(item.message === 'release' ? await this.release(item.handlerId) : await this.run(item, item.message));
        } catch (error) {
          item.reject(error as Error);
        } finally {
          this.current = null;
        }
      }
    } finally {
      this.processing = false;
    }
  }

  private async run(item: Item, message: Uint8Array): Promise<number> {
    let bytes = 0;
    const type = message[0]; // 0 for the startup message, which has no type byte
    this.owner = item.handlerId;
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(message, {
          onRawData: (data) => {
            bytes += data.length;
            item.onData(data);
          },
        }),
      );
    } finally {
      // Even after a failure: the session's state is what decides who may go next.
      this.batchOpen = BATCH_MESSAGES.has(type) || (this.batchOpen && type !== 0x53);
      if (!this.batchOpen && !this.db.isInTransaction()) this.owner = null;
    }
    return bytes;
  }

  /** Ends what the departed owner left open in the session, so the next connection starts clean. */
  private async release(handlerId: number): Promise<number> {
    if (this.owner !== handlerId) return 0;
    const discard = { onRawData: () => {} };
    try {
      if (this.batchOpen) await this.db.runExclusive(() => this.db.execProtocolRawStream(SYNC, discard));
      if (this.db.isInTransaction()) await this.db.runExclusive(() => this.db.execProtocolRawStream(ROLLBACK, discard));
    } finally {
      this.batchOpen = false;
      this.owner = null;
    }
    return 0;
  }
}

/** A simple-protocol Query message ('Q', length, the SQL, a terminating zero). */
function simpleQuery(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const message = Buffer.alloc(5 + text.length);
  message[0] = 'Q'.charCodeAt(0);
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return message;
}
