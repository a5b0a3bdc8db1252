// Two test runs on one machine (two CI runs, or a developer's run beside CI) each create a
// cluster of their own. Creating one removes the clusters earlier runs left behind, but never a
// cluster whose run goes on: that once stopped another run's database under its fault test
// (ECONNREFUSED in jobs-database-restart).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestCluster, ownClusterPort, version, type TestCluster } from '../helpers/cluster.js';

const run = promisify(execFile);
const clusters = async () => (await run('pg_lsclusters', ['--no-header'])).stdout;

/** A cluster named as another run's (`tg_<label>_<pid>`) for a process that stands in for it. */
async function anotherRunsCluster(label: string, owner: number): Promise<string> {
  const name = `tg_${label}_${owner}`;
  const port = await ownClusterPort(25_000);
  await run('pg_createcluster', [version(), name, '-p', String(port), '--start-conf=manual']);
  return name;
}

describe('a test cluster beside another run', () => {
  const label = 'leftovers';
  let owner: ChildProcess | undefined;
  let mine: TestCluster | undefined;
  afterAll(async () => {
    owner?.kill();
    await mine?.drop();
    const { stdout } = await run('pg_lsclusters', ['--no-header']);
    for (const name of stdout.match(new RegExp(`tg_${label}_\\d+`, 'g')) ?? []) {
      await run('pg_dropcluster', ['--stop', version(), name]).catch(() => {});
    }
  });

  it("keeps the other run's cluster while it runs, and removes it once it has gone", async () => {
    owner = spawn('sleep', ['600']);
    await new Promise((resolve) => owner!.once('spawn', resolve));
    const theirs = await anotherRunsCluster(label, owner.pid!);

    mine = await createTestCluster(label);
    expect(await clusters()).toContain(theirs);
    await mine.drop();

    owner.kill();
    await new Promise((resolve) => owner!.once('exit', resolve));
    mine = await createTestCluster(label);
    expect(await clusters()).not.toContain(theirs);
  }, 120_000);
});
