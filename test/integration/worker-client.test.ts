// The API's worker client against real HTTP servers: a worker that accepts connections and
// never answers must not use up a call's deadline, and is skipped for a while afterwards.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerClient } from '../../src/inference/worker-client.js';
import { fixtureRow, startTestWorker, type TestWorker } from '../helpers/worker.js';

/** The shipped base model, as the worker names it. */
const BASE = { name: 'preference' };

/** A TCP server that accepts connections and never answers; counts the requests sent to it. */
async function startHungServer(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  let requests = 0;
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('data', (chunk) => (requests += (String(chunk.toString('latin1')).match(/POST \/v2\//g) ?? []).length));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

let worker: TestWorker | undefined;
let hung: Awaited<ReturnType<typeof startHungServer>> | undefined;
afterEach(async () => {
  await worker?.stop();
  await hung?.close();
  worker = hung = undefined;
});

describe('worker client failover', () => {
  it('a worker that never answers costs one call half its deadline, then is skipped', async () => {
    hung = await startHungServer();
    worker = await startTestWorker();
    // A long ejection, so that a slow machine cannot let it lapse within the six calls.
    const client = createWorkerClient({ urls: [hung.url, worker.url], retries: 2, connections: 2, ejectMs: 10_000 });
    try {
      const row = fixtureRow(0);
      for (let i = 0; i < 6; i++) {
        const result = await client.score(BASE, row, Date.now() + 800); // the first call's first attempt hangs
        expect(result.output.logits.length).toBe(row.T * 2);
      }
      expect(hung.requests()).toBe(1); // ejected after its one failure
    } finally {
      await client.close();
    }
  });

  it('keeps the deadline when the only worker never answers', async () => {
    hung = await startHungServer();
    const client = createWorkerClient({ urls: [hung.url], retries: 2 });
    try {
      const started = Date.now();
      await expect(client.score(BASE, fixtureRow(0), Date.now() + 300)).rejects.toThrow(/no inference worker answered/);
      // undici's own timeouts tick about once a second: they let this call run past 1 s.
      expect(Date.now() - started).toBeLessThan(800);
    } finally {
      await client.close();
    }
  });

  it('tries an ejected worker again once its time is up', async () => {
    hung = await startHungServer();
    worker = await startTestWorker();
    const client = createWorkerClient({ urls: [hung.url, worker.url], retries: 2, ejectMs: 100 });
    try {
      const row = fixtureRow(0);
      await client.score(BASE, row, Date.now() + 400);
      expect(hung.requests()).toBe(1);
      await new Promise((r) => setTimeout(r, 150));
      for (let i = 0; i < 2; i++) await client.score(BASE, row, Date.now() + 400); // one of these starts at the hung worker
      expect(hung.requests()).toBe(2);
    } finally {
      await client.close();
    }
  });
});
