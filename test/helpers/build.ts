// The tests and benchmarks start apps as production does: compiled JavaScript in dist/ (npm run
// build). They build once per run, so a process never runs code older than src/; the build is
// incremental (a few seconds when nothing changed).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Set once built; child processes (vitest's workers) inherit it, so they do not build again.
const BUILT = 'TASTEGRAPH_TEST_DIST_BUILT';

export function buildOnce(): void {
  if (process.env[BUILT] === '1') return;
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  process.env[BUILT] = '1';
}

/** Node arguments that run the compiled app `src/apps/<app>.ts`, building it first if needed. */
export function appArgs(app: string): string[] {
  buildOnce();
  return ['--enable-source-maps', `dist/apps/${app}.js`];
}

/** Vitest's global setup: build before any test file starts. */
export default function setup(): void {
  buildOnce();
}
