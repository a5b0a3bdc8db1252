// The fault tests' own PostgreSQL clusters need a port no outgoing connection can take between a
// stop and a start, and must not be dropped as leftovers while their run goes on
// (test/helpers/cluster.ts).
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ephemeralPortsFrom, leftoverClusters, ownClusterPort } from '../helpers/cluster.js';

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

describe('a leftover test cluster', () => {
  const listing = (...names: string[]) => names.map((name) => `15  ${name} 20001 down postgres /var/lib/postgresql/15/${name} log`).join('\n');

  it('is one whose owner process no longer runs, never one whose owner still runs', async () => {
    const owner = spawn('sleep', ['60']);
    await new Promise((resolve) => owner.once('spawn', resolve));
    const live = `tg_jobs_${owner.pid}`;
    try {
      expect(leftoverClusters(listing('main', live), 'tg_jobs_')).toEqual([]);
    } finally {
      owner.kill();
    }
    await new Promise((resolve) => owner.once('exit', resolve));
    expect(leftoverClusters(listing('main', live), 'tg_jobs_')).toEqual([{ version: '15', name: live }]);
  });

  it("is one of this process's own, or one named without a pid", () => {
    const own = `tg_jobs_${process.pid}`;
    expect(leftoverClusters(listing(own, 'tg_jobs_old', 'tg_restart_1'), 'tg_jobs_', () => true)).toEqual([
      { version: '15', name: own },
      { version: '15', name: 'tg_jobs_old' },
    ]);
  });
});
