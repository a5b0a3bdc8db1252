// Part of `npm run build`: tsc emits JavaScript for src/*.ts into dist/; the files the code
// loads beside itself (the session thread's .mjs, the similarity model's .onnx) are copied to
// the same place under dist/, so compiled code finds them by the same relative URLs. A file
// already up to date is left alone, and a copy lands by rename, so a process starting while
// another one builds never reads half a file.
import { copyFileSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const SOURCE = 'src';
const TARGET = 'dist';

function upToDate(source, target) {
  try {
    const [s, t] = [statSync(source), statSync(target)];
    return s.size === t.size && t.mtimeMs >= s.mtimeMs;
  } catch {
    return false;
  }
}

function copyAssets(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) copyAssets(path);
    else if (!entry.name.endsWith('.ts')) {
      const target = join(TARGET, relative(SOURCE, path));
      if (upToDate(path, target)) continue;
      mkdirSync(dirname(target), { recursive: true });
      const partial = `${target}.${process.pid}.partial`;
      copyFileSync(path, partial);
      renameSync(partial, target);
    }
  }
}

copyAssets(SOURCE);
