// The fault tests' own PostgreSQL clusters need a port no outgoing connection can take between a
// stop and a start (test/helpers/cluster.ts).
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ephemeralPortsFrom, ownClusterPort } from '../helpers/cluster.js';

const held: Server[] = [];
afterEach(async () => {
  await Promise.all(held.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe('a test cluster port', () => {
  it('is below the ports Linux gives outgoing connections', async () => {
    expect(await ownClusterPort()).toBeLessThan(ephemeralPortsFrom());
  });

  it('skips a port another process listens on', async () => {
    const first = await ownClusterPort();
    held.push(await listenOn(first));
    const chosen = await ownClusterPort(first);
    expect(chosen).toBeGreaterThan(first);
    held.push(await listenOn(chosen));
  });
});
