// A real PostgreSQL (PGlite: PostgreSQL compiled to WebAssembly) inside this process, served
// on a loopback port so that the same `pg` code talks to it as to a server. It keeps its data
// in a folder, so the zero-setup start survives restarts.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { PgliteSessionQueue } from './pglite-session-queue.js';

export interface EmbeddedPostgres {
  /** postgres:// URL of the loopback listener. */
  readonly url: string;
  /** True when the data folder was empty before this start. */
  readonly created: boolean;
  stop(): Promise<void>;
}

export class DataDirInUseError extends Error {
  constructor(dataDir: string, pid: number, lockPath: string) {
    super(
      `the embedded database in ${dataDir} is in use by process ${pid} (another npm start?). ` +
        `Two processes on one data folder lose writes: stop the other one, or set EMBEDDED_DATA_DIR to another folder. ` +
        `If no process ${pid} runs, delete ${lockPath}.`,
    );
    this.name = 'DataDirInUseError';
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by someone else
  }
}

/**
 * Takes `<dataDir>.lock` for this process: PGlite has no lock of its own, and a second
 * process on the same folder ran and silently lost its writes. A lock left by a process that
 * no longer runs is taken over. Returns the function that releases it.
 */
export function lockDataDir(dataDir: string): () => void {
  const lockPath = `${dataDir.replace(/\/+$/, '')}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockPath, 'utf8').trim() === String(process.pid)) unlinkSync(lockPath);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && (pid === process.pid || isRunning(pid))) throw new DataDirInUseError(dataDir, pid, lockPath);
      unlinkSync(lockPath); // stale: its process is gone (or the file is not a lock of ours)
    }
  }
  throw new Error(`could not take the lock ${lockPath}`);
}

export async function startEmbeddedPostgres(dataDir: string | undefined): Promise<EmbeddedPostgres> {
  let created = true;
  let unlock = () => {};
  if (dataDir) {
    await mkdir(dataDir, { recursive: true });
    unlock = lockDataDir(dataDir);
    created = (await readdir(dataDir)).length === 0;
  }
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir ? { dataDir } : {});
  } catch (error) {
    unlock();
    throw error;
  }
  const served = await serveOnLoopback(db);
  return {
    url: served.url,
    created,
    async stop() {
      try {
        await served.stop();
        await db.close();
      } finally {
        unlock();
      }
    },
  };
}

/**
 * Serves the PGlite session on a loopback port. PGlite runs one query at a time; the socket
 * server multiplexes connections over it, with our queue (pglite-session-queue.ts) keeping each
 * connection's batch and transaction together. A handful of connections is plenty.
 */
export async function serveOnLoopback(db: PGlite): Promise<{ url: string; stop(): Promise<void> }> {
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
  // A private field (0.2.17, pinned), read by each connection's handler when it is created:
  // replaced before any exists. test/integration/embedded-sessions.test.ts fails if it stops taking effect.
  (server as unknown as { queryQueue: PgliteSessionQueue }).queryQueue = new PgliteSessionQueue(db);
  await server.start();
  const port = (server as unknown as { port: number }).port;
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop: () => server.stop() };
}
