// A real PostgreSQL (PGlite: PostgreSQL compiled to WebAssembly) inside this process, served
// on a loopback port so that the same `pg` code talks to it as to a server. It keeps its data
// in a folder, so the zero-setup start survives restarts.
import { mkdir, readdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  /** postgres:// URL of the loopback listener. */
  readonly url: string;
  /** True when the data folder was empty before this start. */
  readonly created: boolean;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(dataDir: string | undefined): Promise<EmbeddedPostgres> {
  let created = true;
  if (dataDir) {
    await mkdir(dataDir, { recursive: true });
    created = (await readdir(dataDir)).length === 0;
  }
  const db = await PGlite.create(dataDir ? { dataDir } : {});
  // PGlite runs one query at a time; the socket server multiplexes connections over it and
  // keeps a transaction's statements together. A handful of connections is plenty.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
  await server.start();
  const port = (server as unknown as { port: number }).port;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    created,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
