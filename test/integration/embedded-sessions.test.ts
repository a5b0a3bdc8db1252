// The embedded database shared by many connections (the API's pool, pg-boss's pool, the
// trainer's export) behaves as separate sessions: concurrent queries get their own answers,
// and one connection's failure or departure stops no one else. With pglite-socket's own queue
// the first test got "unnamed prepared statement does not exist" (as `npm start` did under
// load), the second hung, the fourth got another query's answer; the third guards what it did
// right (src/repositories/pglite-session-queue.ts says how).
import { connect } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { serveOnLoopback } from '../../src/repositories/embedded-postgres.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function served(db = new PGlite()) {
  const server = await serveOnLoopback(db);
  cleanups.push(
    () => db.close(),
    () => server.stop(),
  );
  const pool = (max: number) => {
    const p = new pg.Pool({ connectionString: server.url, max });
    p.on('error', () => {}); // a connection the test broke on purpose
    cleanups.push(() => p.end());
    return p;
  };
  return { db, url: server.url, pool };
}

/** Rejects when the promise takes longer than ms: a hung session shows as a failure, not a stuck test. */
const within = <T>(ms: number, p: Promise<T>) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))]);

/** One frontend message: type byte, length, body. */
function message(type: string, ...parts: (string | number[])[]) {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(`${p}\0`) : Buffer.from(p))));
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A raw connection that starts up, sends `bytes`, and leaves without a Sync. */
async function leaveMidBatch(url: string, bytes: Buffer) {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const params = Buffer.from('user\0postgres\0database\0postgres\0\0');
  const startup = Buffer.alloc(8);
  startup.writeInt32BE(8 + params.length, 0);
  startup.writeInt32BE(196608, 4);
  const ready = new Promise<void>((resolve) => {
    let seen = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      seen = Buffer.concat([seen, d]);
      if (seen.includes(Buffer.from([0x5a, 0, 0, 0, 5]))) resolve(); // ReadyForQuery
    });
  });
  socket.write(Buffer.concat([startup, params]));
  await ready;
  socket.write(bytes);
  await new Promise((r) => setTimeout(r, 50));
  socket.destroy();
}

describe('the embedded database shared by many connections', () => {
  it('gives concurrent queries from two pools their own answers', async () => {
    const { pool } = await served();
    const [api, jobs] = [pool(8), pool(4)];
    await api.query('CREATE TABLE t (n int)');
    // Parameterised queries go through Parse/Bind/Execute/Sync, the ones without values as
    // one simple Query: the mix that replaced one connection's unnamed statement mid-batch.
    const work = Array.from({ length: 400 }, (_, i) => {
      const p = i % 2 ? api : jobs;
      if (i % 5 === 0) return p.query(`SELECT ${i} AS n`).then((r) => r.rows[0].n as number);
      if (i % 7 === 0)
        return p.connect().then(async (c) => {
          try {
            await c.query('BEGIN');
            await c.query('INSERT INTO t VALUES ($1)', [i]);
            await c.query('COMMIT');
            return i;
          } finally {
            c.release();
          }
        });
      return p.query('SELECT $1::int AS n, $2::text AS s', [i, `v${i}`]).then((r) => (r.rows[0].s === `v${i}` ? (r.rows[0].n as number) : -1));
    });
    const answers = await within(60_000, Promise.all(work));
    expect(answers).toEqual(Array.from({ length: 400 }, (_, i) => i));
    const committed = (await api.query('SELECT count(*)::int AS n FROM t')).rows[0].n;
    expect(committed).toBe(Array.from({ length: 400 }, (_, i) => i).filter((i) => i % 5 !== 0 && i % 7 === 0).length);
  });

  it('keeps serving the others after one message fails inside PGlite', async () => {
    const db = new PGlite();
    const original = db.execProtocolRawStream.bind(db);
    let failed = false;
    db.execProtocolRawStream = async (bytes, options) => {
      if (!failed && bytes[0] === 'P'.charCodeAt(0)) {
        failed = true;
        throw new Error('injected failure');
      }
      return original(bytes, options);
    };
    const { pool } = await served(db);
    const [first, others] = [pool(1), pool(4)];
    await expect(within(10_000, first.query('SELECT $1::int AS n', [1]))).rejects.toThrow(/terminated|closed|ECONNRESET/i);
    const answers = await within(10_000, Promise.all([1, 2, 3, 4].map((n) => others.query('SELECT $1::int AS n', [n]))));
    expect(answers.map((r) => r.rows[0].n)).toEqual([1, 2, 3, 4]);
  });

  it('rolls back the transaction of a connection that leaves in the middle of it', async () => {
    const { pool, url } = await served();
    const p = pool(4);
    await p.query('CREATE TABLE t (n int)');
    const leaver = new pg.Client({ connectionString: url });
    leaver.on('error', () => {});
    await leaver.connect();
    await leaver.query('BEGIN');
    await leaver.query('INSERT INTO t VALUES (1)');
    // The socket drops with the transaction open: no COMMIT, no ROLLBACK from the client.
    (leaver as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const rows = await within(10_000, p.query('SELECT count(*)::int AS n FROM t'));
    expect(rows.rows[0].n).toBe(0);
    await within(10_000, p.query('INSERT INTO t VALUES ($1)', [2]));
    expect((await p.query('SELECT n FROM t')).rows).toEqual([{ n: 2 }]);
  });

  it('ends the batch of a connection that leaves before its Sync', async () => {
    const { pool, url } = await served();
    // A Parse that fails (no such table), then Bind: the session now skips messages until a Sync.
    await leaveMidBatch(url, Buffer.concat([message('P', '', 'SELECT * FROM missing', [0, 0]), message('B', '', '', [0, 0, 0, 0, 0, 0])]));
    const p = pool(2);
    const answers = await within(10_000, Promise.all([1, 2].map((n) => p.query('SELECT $1::int AS n', [n]))));
    expect(answers.map((r) => r.rows[0].n)).toEqual([1, 2]);
  });
});
