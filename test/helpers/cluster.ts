// A PostgreSQL cluster of the test's own (Debian's pg_createcluster), on a port of its own, so
// that a fault test can restart or stop the database without touching the shared server on
// 5432. Removed again by drop(). Needs root (CI and these machines run as root).
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrate } from '../../src/repositories/migrator.js';

const run = promisify(execFile);

export interface TestCluster {
  port: number;
  /** As the superuser (the tables' owner): migrations and checks. */
  adminUrl: string;
  /** As tastegraph_app: what the API uses. */
  appUrl: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  drop(): Promise<void>;
}

/** The newest PostgreSQL installed (Debian's /etc/postgresql/<version>). */
export const version = () => readdirSync('/etc/postgresql').sort().at(-1)!;

async function ctl(name: string, action: string, ...args: string[]) {
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', version(), name, action, ...args]);
}

/** Whether a process with this pid runs now (signal 0 checks without sending anything). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user. ESRCH: no such process.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The clusters in a `pg_lsclusters --no-header` listing that an earlier run left behind: named
 * `<prefix><pid>` (createTestCluster's names) by a process that no longer runs. A cluster whose
 * owner still runs is another test run's live database (two CI runs on one machine): dropping it
 * once failed that run's fault test with ECONNREFUSED. A leftover of this very process (an
 * earlier create without its drop) is stale too. A dead run's pid taken since by another process
 * keeps its cluster until that process ends: a cluster kept too long, never a live one dropped.
 */
export function leftoverClusters(listing: string, prefix: string, runs: (pid: number) => boolean = processRuns): { version: string; name: string }[] {
  const leftovers = [];
  for (const line of listing.split('\n')) {
    const [ver, name] = line.trim().split(/\s+/);
    if (!ver || !name?.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    const ownerRuns = Number.isInteger(pid) && pid > 0 && pid !== process.pid && runs(pid);
    if (!ownerRuns) leftovers.push({ version: ver, name });
  }
  return leftovers;
}

/** Clusters an earlier run left behind (killed before its afterAll): removed, not piled up. */
async function dropLeftovers(prefix: string): Promise<void> {
  const { stdout } = await run('pg_lsclusters', ['--no-header']);
  for (const { version: ver, name } of leftoverClusters(stdout, prefix)) {
    await run('pg_dropcluster', ['--stop', ver, name]).catch(() => {});
  }
}

/** The lowest port Linux gives outgoing connections (ip_local_port_range; 32768 by default). */
export function ephemeralPortsFrom(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const OWN_PORTS_FROM = 20_000;

/**
 * A port for a test's own cluster, free of listeners now, from `first` on (spread by pid so that
 * test processes side by side start apart). Below the ports Linux gives outgoing connections, so
 * no client socket can hold it when the cluster starts or restarts: the ports 56000-59999 used
 * before are in that range, and a busy CI run once failed to start a cluster on 57868,
 * "Address already in use".
 */
export async function ownClusterPort(first = OWN_PORTS_FROM + (process.pid % 8000)): Promise<number> {
  const end = Math.min(ephemeralPortsFrom(), OWN_PORTS_FROM + 10_000);
  for (let port = first; port < end; port++) if (await canListen(port)) return port;
  throw new Error(`no free port for a test cluster between ${first} and ${end}`);
}

export async function createTestCluster(label: string): Promise<TestCluster> {
  await dropLeftovers(`tg_${label}_`);
  const name = `tg_${label}_${process.pid}`;
  const port = await ownClusterPort();
  // fsync off: the tests restart it, they do not test durability across a power cut.
  await run('pg_createcluster', [
    version(),
    name,
    '-p',
    String(port),
    '--start-conf=manual',
    '-o',
    'fsync=off',
    '-o',
    'shared_buffers=16MB',
    '--',
    '--auth=trust',
  ]);
  await ctl(name, 'start');
  const url = (user: string) => `postgres://${user}@127.0.0.1:${port}/tastegraph`;
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE tastegraph');
  await admin.end();
  await migrate(url('postgres'));
  return {
    port,
    adminUrl: url('postgres'),
    appUrl: url('tastegraph_app'),
    restart: () => ctl(name, 'restart', '-m', 'fast'),
    stop: () => ctl(name, 'stop', '-m', 'fast'),
    start: () => ctl(name, 'start'),
    async drop() {
      await run('pg_dropcluster', ['--stop', version(), name]).catch(() => {});
    },
  };
}
