// npm run bench:startup -- [--runs 5] [--server postgres://postgres@127.0.0.1:5432/postgres]
// Process start-up, from spawn to "ready", of the API and the worker run as compiled JavaScript
// (node dist/apps/..., as deployed since issue 15) and through tsx (TypeScript compiled at
// start, as before), alternating the two in each run so that both see the same machine load.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { buildOnce } from '../test/helpers/build.js';
import { createScratchDatabase } from './processes.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, server: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' } },
});
const runs = Number(values.runs);
const READY = { api: /ready at http:\/\//, worker: /inference worker at http:\/\// };
type App = keyof typeof READY;

function startedInMs(app: App, args: string[], env: Record<string, string>): Promise<number> {
  const began = performance.now();
  const child = spawn(process.execPath, args, {
    env: { ...process.env, PORT: '0', WORKER_PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const early = (code: number | null) => reject(new Error(`${app} exited (${code}) before it was ready:\n${out}`));
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (!READY[app].test(out)) return;
      const ms = performance.now() - began;
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.off('exit', early);
      // The next start waits for this one to be gone, so they never overlap.
      child.once('exit', () => resolve(ms));
      child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', early);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  buildOnce();
  const db = await createScratchDatabase(values.server, 'startup');
  try {
    const env = { api: { DATABASE_URL: db.appUrl }, worker: {} };
    const variants = {
      compiled: (app: App) => ['--enable-source-maps', `dist/apps/${app}.js`],
      tsx: (app: App) => ['--import', 'tsx', `src/apps/${app}.ts`],
    };
    const times: Record<string, number[]> = {};
    for (let run = 0; run < runs; run++) {
      for (const app of ['api', 'worker'] as App[]) {
        for (const [name, args] of Object.entries(variants)) {
          (times[`${app} ${name}`] ??= []).push(await startedInMs(app, args(app), env[app]));
        }
      }
    }
    console.log(`\nnpm run bench:startup -- ${process.argv.slice(2).join(' ')}\n`);
    console.log('| process | compiled (dist/), median ms | tsx, median ms | tsx / compiled | runs (compiled; tsx) |');
    console.log('|---|---|---|---|---|');
    for (const app of ['api', 'worker']) {
      const c = times[`${app} compiled`];
      const t = times[`${app} tsx`];
      console.log(
        `| ${app} | ${median(c).toFixed(0)} | ${median(t).toFixed(0)} | ${(median(t) / median(c)).toFixed(2)} | ${c.map((x) => x.toFixed(0)).join(', ')}; ${t.map((x) => x.toFixed(0)).join(', ')} |`,
      );
    }
  } finally {
    await db.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
