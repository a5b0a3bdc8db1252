// The one-way rules of ../shared/ARCHITECTURE.md, read from the sources' import statements, so
// that a change sending data against the grain fails here instead of waiting for a review.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

interface SourceFile {
  /** Path under src/, with forward slashes: `ranking/vector-index.ts`. */
  path: string;
  /** Its first folder under src/ (`ranking`), or the file itself for top-level files (`config.ts`). */
  layer: string;
  /** What it imports: other sources as paths under src/, packages by name. */
  sources: string[];
  packages: string[];
  /** The sources it imports for their types alone (`import type`), which vanish at run time. */
  typeOnly: Set<string>;
}

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    // The GraphQL code generator's output is rebuilt from schema.graphql and not committed.
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourcesUnder(full);
    return /\.(ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

// Static imports, re-exports and dynamic import() with a literal specifier; type-only imports
// count too, since a type names the layer it comes from.
const SPECIFIER = /(?:^|[\s;])(?:import|export)\s([^'";]*?)from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm;

/** A path's layer: its first folder under src/, or the file itself for top-level files. */
const layerOf = (path: string) => path.split('/')[0];

function read(full: string): SourceFile {
  const path = relative(SRC, full).split(sep).join('/');
  const text = readFileSync(full, 'utf8');
  const sources: string[] = [];
  const packages: string[] = [];
  const typeOnly = new Set<string>();
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[2] ?? m[3] ?? m[4];
    if (!spec.startsWith('.')) {
      packages.push(spec);
      continue;
    }
    const source = posix.normalize(posix.join(posix.dirname(path), spec)).replace(/\.js$/, '.ts');
    sources.push(source);
    if (m[1]?.startsWith('type ')) typeOnly.add(source);
  }
  return { path, layer: layerOf(path), sources, packages, typeOnly };
}

const FILES = sourcesUnder(SRC).map(read);

/** Every import of a file in `from` that reaches a layer in `forbidden`, as "file -> import". */
function crossings(from: readonly string[], forbidden: readonly string[]): string[] {
  return FILES.filter((f) => from.includes(f.layer)).flatMap((f) => f.sources.filter((s) => forbidden.includes(layerOf(s))).map((s) => `${f.path} -> ${s}`));
}

describe('architecture: the one-way rules', () => {
  it('reads the sources (a guard against a pattern that matches nothing)', () => {
    expect(FILES.length).toBeGreaterThan(100);
    const api = FILES.find((f) => f.path === 'apps/api.ts');
    expect(api?.sources).toContain('config.ts');
    expect(FILES.find((f) => f.path === 'ranking/similarity-session.ts')?.packages).toContain('onnxruntime-node');
  });

  it('ranking/ and clustering/ are pure: no storage, services, adapters or network', () => {
    const stateful = ['apps', 'events', 'graphql', 'http', 'inference', 'jobs', 'metrics', 'repositories', 'services', 'training'];
    expect(crossings(['ranking', 'clustering'], stateful)).toEqual([]);
    const io = /^(pg|pg-boss|@prisma\/.*|undici|ws|graphql-ws|express|node:(net|http|https|child_process))$/;
    const ioImports = FILES.filter((f) => f.layer === 'ranking' || f.layer === 'clustering').flatMap((f) =>
      f.packages.filter((p) => io.test(p)).map((p) => `${f.path} -> ${p}`),
    );
    expect(ioImports).toEqual([]);
  });

  it('services never reach back into the adapters or the processes', () => {
    expect(crossings(['services'], ['apps', 'graphql', 'http', 'jobs'])).toEqual([]);
  });

  it('the adapters reach storage only through services: graphql/, http/ and jobs/ import no repository', () => {
    expect(crossings(['graphql', 'http', 'jobs'], ['repositories'])).toEqual([]);
  });

  it('repositories and inference depend on no layer above them', () => {
    expect(crossings(['repositories', 'inference'], ['apps', 'graphql', 'http', 'jobs', 'services', 'training'])).toEqual([]);
  });

  it('repositories return rows and refusals as data: the words a client reads are made in services', () => {
    expect(crossings(['repositories'], ['errors.ts'])).toEqual([]);
  });

  it('only the processes compose: nothing outside apps/ imports apps/', () => {
    const others = [...new Set(FILES.map((f) => f.layer))].filter((layer) => layer !== 'apps');
    expect(crossings(others, ['apps'])).toEqual([]);
  });

  it('has no import cycles at run time', () => {
    const bySource = new Map(FILES.map((f) => [f.path, f.sources.filter((s) => s !== f.path && !f.typeOnly.has(s))]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (path: string, trail: string[]) => {
      if (state.get(path) === 'done') return;
      if (state.get(path) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(path)), path].join(' -> '));
        return;
      }
      state.set(path, 'open');
      for (const next of bySource.get(path) ?? []) visit(next, [...trail, path]);
      state.set(path, 'done');
    };
    for (const path of bySource.keys()) visit(path, []);
    expect(cycles).toEqual([]);
  });
});
