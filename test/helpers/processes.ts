// API and worker processes started as an operator would (node dist/apps/..., compiled by npm run build),
// for tests and benchmarks that need real processes: to kill them, or to run two instances.
import { spawn, type ChildProcess } from 'node:child_process';
import { appArgs } from './build.js';

export interface StartedProcess {
  url: string;
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, and waits for it to exit. */
  stop(): Promise<void>;
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

/**
 * Starts the compiled src/apps/<app>.ts; resolves once it prints the line that `ready` matches (its URL in
 * the first group). Start-up has a timeout of its own: two processes starting at once on a
 * loaded 2-core machine take far longer than on an idle one.
 */
export function startProcess(
  app: 'api' | 'worker' | 'jobs',
  env: Record<string, string>,
  options: { nodeArgs?: string[]; timeoutMs?: number } = {},
): Promise<StartedProcess> {
  const ready =
    app === 'api'
      ? /ready at (http:\/\/\S+)/
      : app === 'worker'
        ? /inference worker at (http:\/\/\S+?)\/v2 /
        : /tastegraph jobs ready: .* metrics at (http:\/\/\S+?)\/metrics/;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...appArgs(app)], {
    env: { ...process.env, PORT: '0', WORKER_PORT: '0', JOBS_PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${app} was not ready within ${options.timeoutMs ?? 120_000} ms:\n${out}`));
    }, options.timeoutMs ?? 120_000);
    const onData = () => {
      const match = ready.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      resolve({
        url: match[1],
        child,
        output: () => out,
        async stop() {
          child.kill('SIGTERM');
          await exited(child);
        },
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${app} exited (${code ?? signal}) before it was ready:\n${out}`));
    });
  });
}
