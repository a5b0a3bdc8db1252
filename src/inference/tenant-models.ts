// Tenants' own models, from a Triton-style store: <store>/tenant-<tenant id>/<version>/model.onnx.
// A platform has many tenants and a process cannot hold every tenant's session, so versions
// are loaded when first asked for and kept within a memory budget, the least recently used
// unloaded first (after finishing what they had queued). The API names the version it wants
// (the registry's PROMOTED one), so a promotion for one tenant never changes another's answers.
// A file that fails to load or to match the contract is refused, logged and counted, and not
// tried again until it changes; the versions already loaded keep serving.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { createBatcher, type BatcherOptions } from './batcher.js';
import { loadPreferenceSession, type ExecutionProvider } from './preference-session.js';
import type { ServedModel } from './model-registry.js';
import { isTenantModelName, specificVersions } from './model-names.js';

export class ModelNotFoundError extends Error {
  readonly status = 404;
  constructor(message: string) {
    super(message);
    this.name = 'ModelNotFoundError';
  }
}

/** The version is in the store but cannot serve (corrupt, or not a preference model). */
export class ModelRefusedError extends Error {
  readonly status = 409;
  constructor(message: string) {
    super(message);
    this.name = 'ModelRefusedError';
  }
}

export interface TenantModelsOptions {
  storeDir: string;
  provider: ExecutionProvider;
  intraOpThreads?: number;
  batching: Omit<BatcherOptions, 'run'>;
  /** Bytes the loaded versions may take together (estimated, see estimateBytes). */
  budgetBytes: number;
  log: Logger;
  onEvict?: (name: string, version: string) => void;
  onRefused?: (name: string, version: string, error: Error) => void;
}

interface Entry extends ServedModel {
  name: string;
  version: string;
  fileBytes: number;
  /** The most candidates (users x candidates each) one run has scored: what its arena grew to hold. */
  peakCandidates: number;
  bytes: number;
}

/** One row of Triton's repository index (POST /v2/repository/index). */
export interface RepositoryEntry {
  name: string;
  version: string;
  state: 'READY' | 'UNAVAILABLE';
  reason: string;
}

export interface LoadReport {
  /** The version to serve: config.pbtxt's first. */
  serving: string;
  loaded: string[];
  refused: { version: string; error: string }[];
}

/**
 * What one loaded version holds, as WORKER_MODEL_CACHE_MB counts it: its weights (twice the
 * file: onnxruntime's copy and the bytes handed to its thread), a thread of its own, and
 * onnxruntime's CPU arena, which grows to the largest run the session has made and never
 * shrinks, with the copies of that run's inputs on the way to the session's thread. Measured in
 * bench/model-memory.ts (model width 64, runs of 64 users x 500 candidates): 7.3 kB per
 * candidate at dimension 32 (228 MB), 11.1 kB at dimension 512 (348 MB); so a busy tenant's
 * version costs far more than its file, and a quiet one little. Counted as 7 kB plus 12 bytes
 * per dimension for each candidate of the largest run.
 */
export const estimateBytes = (fileBytes: number, dim = 0, peakCandidates = 0) => 2 * fileBytes + 10 * 1024 * 1024 + peakCandidates * (7000 + 12 * dim);

export function createTenantModels(o: TenantModelsOptions) {
  // Insertion order is recency: a use moves the entry to the end, eviction takes the front.
  const loaded = new Map<string, Entry>();
  const loading = new Map<string, Promise<Entry>>();
  const refused = new Map<string, { mtime: number; error: string }>();
  let bytes = 0;
  let evictions = 0;
  const key = (name: string, version: string) => `${name}/${version}`;

  function touch(entry: Entry) {
    const k = key(entry.name, entry.version);
    loaded.delete(k);
    loaded.set(k, entry);
  }

  /**
   * Takes versions out of service in this synchronous step (nothing can reach their batchers
   * after), then frees each once it has answered what it had queued.
   */
  async function retire(keys: string[]): Promise<Entry[]> {
    const entries = keys.map((k) => loaded.get(k)!);
    for (const [i, k] of keys.entries()) {
      loaded.delete(k);
      bytes -= entries[i].bytes;
    }
    for (const entry of entries) {
      await entry.batcher.drain();
      await entry.session.release();
    }
    return entries;
  }

  /** Frees least recently used versions until the loaded ones fit the budget (never `keep`, the one just loaded). */
  async function makeRoom(keep: string) {
    const victims: string[] = [];
    let over = bytes - o.budgetBytes;
    for (const [k, entry] of loaded) {
      if (over <= 0) break;
      if (k === keep) continue;
      over -= entry.bytes;
      victims.push(k);
      evictions++;
      o.onEvict?.(entry.name, entry.version);
      o.log.info(
        { model: entry.name, version: entry.version, bytes: entry.bytes },
        'tenant model unloaded to stay within the memory budget (least recently used)',
      );
    }
    await retire(victims);
  }

  async function load(name: string, version: string): Promise<Entry> {
    const file = join(o.storeDir, name, version, 'model.onnx');
    let info;
    try {
      info = await stat(file);
    } catch {
      throw new ModelNotFoundError(`model ${name} has no version ${version} in the store`);
    }
    const k = key(name, version);
    const known = refused.get(k);
    if (known && known.mtime === info.mtimeMs) throw new ModelRefusedError(`model ${name} version ${version} cannot be loaded: ${known.error}`);
    let session;
    try {
      session = await loadPreferenceSession(file, version, o.provider, o.intraOpThreads ?? 0);
    } catch (error) {
      const message = (error as Error).message;
      refused.set(k, { mtime: info.mtimeMs, error: message });
      o.onRefused?.(name, version, error as Error);
      o.log.error({ err: error, model: name, version }, 'tenant model version refused; the versions loaded keep serving');
      throw new ModelRefusedError(`model ${name} version ${version} cannot be loaded: ${message}`);
    }
    refused.delete(k);
    const entry: Entry = {
      name,
      version,
      session,
      fileBytes: info.size,
      peakCandidates: 0,
      bytes: estimateBytes(info.size),
      batcher: createBatcher({
        ...o.batching,
        run: (batch) => {
          grew(entry, batch.B * batch.T);
          return session.run(batch);
        },
      }),
    };
    loaded.set(k, entry);
    bytes += entry.bytes;
    o.log.info({ model: name, version, metadata: session.metadata }, 'tenant model version loaded');
    // The caller does not wait for others to drain: they are out of service at once, freed after.
    makeRoom(k).catch((error) => o.log.error({ err: error }, 'unloading a tenant model version failed'));
    return entry;
  }

  /** A run larger than any before: the arena will grow to it, and the budget counts it now. */
  function grew(entry: Entry, candidates: number) {
    if (candidates <= entry.peakCandidates) return;
    entry.peakCandidates = candidates;
    const next = estimateBytes(entry.fileBytes, entry.session.embeddingDim, candidates);
    if (loaded.get(key(entry.name, entry.version)) === entry) bytes += next - entry.bytes;
    entry.bytes = next;
    makeRoom(key(entry.name, entry.version)).catch((error) => o.log.error({ err: error }, 'unloading a tenant model version failed'));
  }

  /** The highest version folder in the store (for a request that names none). */
  async function latestInStore(name: string): Promise<string> {
    const versions = await specificVersions(join(o.storeDir, name));
    if (versions.length === 0) throw new ModelNotFoundError(`model ${name} has no version in the store`);
    return versions[0];
  }

  function checkName(name: string, version?: string) {
    // Names and versions become paths: only the exact shapes the store uses are accepted.
    if (!isTenantModelName(name)) throw new ModelNotFoundError(`unknown model ${name}`);
    if (version !== undefined && !/^[1-9]\d{0,8}$/.test(version)) throw new ModelNotFoundError(`model ${name} has no version ${version}`);
  }

  /** The version asked for (the store's highest when none), loaded now if it is not. */
  async function acquire(name: string, version?: string): Promise<Entry> {
    checkName(name, version);
    const v = version ?? (await latestInStore(name));
    const k = key(name, v);
    const entry = loaded.get(k);
    if (entry) {
      touch(entry);
      return entry;
    }
    let pending = loading.get(k);
    if (!pending) {
      pending = load(name, v).finally(() => loading.delete(k));
      loading.set(k, pending);
    }
    return pending;
  }

  return {
    /** Whether a version is loaded (a readiness probe: not a use, so the LRU order stays). */
    isLoaded: (name: string, version: string) => loaded.has(key(name, version)),

    acquire,

    /**
     * The repository API's load: the versions config.pbtxt names (version_policy specific),
     * else the highest in the store. Reports what loaded and what was refused.
     */
    async loadModel(name: string): Promise<LoadReport> {
      checkName(name);
      const versions = await specificVersions(join(o.storeDir, name));
      if (versions.length === 0) throw new ModelNotFoundError(`model ${name} has no version in the store`);
      const report: LoadReport = { serving: versions[0], loaded: [], refused: [] };
      for (const version of versions) {
        try {
          await acquire(name, version);
          report.loaded.push(version);
        } catch (error) {
          if (!(error instanceof ModelRefusedError)) throw error;
          report.refused.push({ version, error: error.message });
        }
      }
      return report;
    },

    /**
     * The repository API's unload: every loaded version of the model leaves service now (in
     * this synchronous step) and is freed once it has answered what it had queued. Like any
     * tenant model, it loads again on its next use. Returns the versions unloaded.
     */
    async unloadModel(name: string): Promise<string[]> {
      checkName(name);
      const versions = (await retire([...loaded.keys()].filter((k) => loaded.get(k)!.name === name))).map((e) => e.version);
      if (versions.length) o.log.info({ model: name, versions }, 'tenant model unloaded (repository API)');
      return versions.sort((a, b) => Number(a) - Number(b));
    },

    /** The repository API's index of the tenants' models: every version in the store, READY if loaded. */
    async repositoryIndex(): Promise<RepositoryEntry[]> {
      const names = (await readdir(o.storeDir, { withFileTypes: true }).catch(() => []))
        .filter((e) => e.isDirectory() && isTenantModelName(e.name))
        .map((e) => e.name)
        .sort();
      const index: RepositoryEntry[] = [];
      for (const name of names) {
        for (const version of (await specificVersions(join(o.storeDir, name))).sort((a, b) => Number(a) - Number(b))) {
          const k = key(name, version);
          if (loaded.has(k)) index.push({ name, version, state: 'READY', reason: '' });
          else index.push({ name, version, state: 'UNAVAILABLE', reason: refused.get(k)?.error ?? 'unloaded' });
        }
      }
      return index;
    },

    versions(name: string): string[] {
      return [...loaded.values()]
        .filter((e) => e.name === name)
        .map((e) => e.version)
        .sort((a, b) => Number(a) - Number(b));
    },

    stats() {
      return { models: loaded.size, bytes, evictions, refused: refused.size };
    },

    async close() {
      for (const entry of loaded.values()) {
        await entry.batcher.drain();
        await entry.session.release();
      }
      loaded.clear();
      bytes = 0;
    },
  };
}

export type TenantModels = ReturnType<typeof createTenantModels>;
