// Model versions from a Triton-style model store: <store>/<model>/<version>/model.onnx, with
// integer versions. Every loaded version has its own batcher; "latest" is the highest loaded.
// A new version is loaded beside the old ones and takes over for new requests only once it
// is ready, so no request is dropped; a file that fails to load or to match the contract is
// refused with a log line, and what was serving goes on serving.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { createBatcher, type Batcher, type BatcherOptions } from './batcher.js';
import { loadPreferenceSession, type ExecutionProvider, type PreferenceSession } from './preference-session.js';

export interface ServedModel {
  session: PreferenceSession;
  batcher: Batcher;
}

export interface ModelRegistryOptions {
  storeDir: string;
  modelName: string;
  provider: ExecutionProvider;
  /** onnxruntime intra-op threads; 0 = its default. */
  intraOpThreads?: number;
  batching: Omit<BatcherOptions, 'run'>;
  log: Logger;
  /** How often to look for new versions; 0 = only when told (rescan). */
  pollMs: number;
}

export interface ModelRegistry {
  /** The version asked for, or the latest when none is given. */
  get(version?: string): ServedModel | undefined;
  versions(): string[];
  /** Loads versions that appeared in the store since the last look; returns those loaded. */
  rescan(): Promise<string[]>;
  close(): Promise<void>;
}

export async function createModelRegistry(options: ModelRegistryOptions): Promise<ModelRegistry> {
  const loaded = new Map<string, ServedModel>();
  const refused = new Map<string, number>(); // version -> mtime of the file refused, not retried until it changes
  let latest: string | undefined;
  let scanning: Promise<string[]> | undefined;
  const modelDir = join(options.storeDir, options.modelName);

  async function scan(): Promise<string[]> {
    let entries: string[] = [];
    try {
      entries = (await readdir(modelDir, { withFileTypes: true })).filter((e) => e.isDirectory() && /^\d+$/.test(e.name)).map((e) => e.name);
    } catch (error) {
      options.log.warn({ err: error, modelDir }, 'model store cannot be read');
      return [];
    }
    const added: string[] = [];
    for (const version of entries.sort((a, b) => Number(a) - Number(b))) {
      if (loaded.has(version)) continue;
      const file = join(modelDir, version, 'model.onnx');
      let mtime: number;
      try {
        mtime = (await stat(file)).mtimeMs;
      } catch {
        continue; // a version folder still being written
      }
      if (refused.get(version) === mtime) continue;
      try {
        const session = await loadPreferenceSession(file, version, options.provider, options.intraOpThreads ?? 0);
        const batcher = createBatcher({ ...options.batching, run: (batch) => session.run(batch) });
        loaded.set(version, { session, batcher });
        added.push(version);
        options.log.info({ model: options.modelName, version, metadata: session.metadata }, 'model version loaded');
      } catch (error) {
        refused.set(version, mtime);
        options.log.error({ err: error, model: options.modelName, version }, 'model version refused; previous versions keep serving');
      }
    }
    const highest = [...loaded.keys()].sort((a, b) => Number(b) - Number(a))[0];
    latest = highest;
    return added;
  }

  const rescan = () => (scanning ??= scan().finally(() => (scanning = undefined)));
  await rescan();
  const timer = options.pollMs > 0 ? setInterval(() => void rescan(), options.pollMs) : undefined;
  timer?.unref();

  return {
    get: (version) => loaded.get(version && version !== 'latest' ? version : (latest ?? '')),
    versions: () => [...loaded.keys()].sort((a, b) => Number(a) - Number(b)),
    rescan,
    async close() {
      if (timer) clearInterval(timer);
      for (const model of loaded.values()) {
        await model.batcher.drain();
        await model.session.release();
      }
      loaded.clear();
    },
  };
}
