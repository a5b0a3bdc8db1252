// Used by npm start and the other app commands: runs `npm run build` only when something it
// compiles changed since the last build (a source file, the schema, a tsconfig or the package
// list is newer than dist/.tsbuildinfo). A build with nothing to do still costs tsc several
// seconds of type-checking; this check costs milliseconds.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

const STAMP = 'dist/.tsbuildinfo';
const INPUTS = ['src', 'schema.graphql', 'scripts', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a deleted file changes its folder's mtime
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function stale() {
  let built;
  try {
    built = statSync(STAMP).mtimeMs;
  } catch {
    return true;
  }
  return INPUTS.some((input) => newestMtime(input) > built);
}

if (stale()) {
  execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  // tsc leaves its stamp alone when no file's content changed (a touched file); mark the
  // build as done now, so the next start does not build again for nothing.
  const now = new Date();
  utimesSync(STAMP, now, now);
}
