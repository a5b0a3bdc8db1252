// Part of `npm run build`: tsc emits JavaScript for src/*.ts into dist/; the files the code
// loads beside itself (the session thread's .mjs, the similarity model's .onnx) are copied to
// the same place under dist/, so compiled code finds them by the same relative URLs.
import { cpSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const SOURCE = 'src';
const TARGET = 'dist';

function copyAssets(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) copyAssets(path);
    else if (!entry.name.endsWith('.ts')) cpSync(path, join(TARGET, relative(SOURCE, path)));
  }
}

copyAssets(SOURCE);
