// Model versions from a Triton-style model store: <store>/<model>/<version>/model.onnx, with
// integer versions. Every loaded version has its own batcher; "latest" is the highest loaded.
// A new version is loaded beside the old ones and takes over for new requests only once it
// is ready, so no request is dropped; a file that fails to load or to match the contract is
// refused with a log line, and what was serving goes on serving.
// A version whose file changes in place is loaded again the same way (Triton's poll mode).
// Like Triton's version policy `latest { num_versions: N }`, only the N highest versions stay
// loaded, and a version whose folder left the store is unloaded: a nightly job adds a version
// a day, and each loaded one holds a session and a thread. Unloading takes the version out of
// service first, then finishes what it had queued, then frees it.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { createBatcher, type Batcher, type BatcherOptions } from './batcher.js';
import { loadPreferenceSession, type ExecutionProvider, type PreferenceSession } from './preference-session.js';

export interface ServedModel {
  session: PreferenceSession;
  batcher: Batcher;
}

interface LoadedModel extends ServedModel {
  /** The file's modification time when loaded: a change loads it again. */
  mtime: number;
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
  /** How many of the highest versions stay loaded (Triton's version_policy latest num_versions). */
  versionsKept: number;
}

export interface RescanResult {
  loaded: string[];
  unloaded: string[];
}

export interface ModelRegistry {
  /** The version asked for, or the latest when none is given. */
  get(version?: string): ServedModel | undefined;
  versions(): string[];
  /** Loads versions that appeared in the store since the last look and unloads those past the policy. */
  rescan(): Promise<RescanResult>;
  close(): Promise<void>;
}

export async function createModelRegistry(options: ModelRegistryOptions): Promise<ModelRegistry> {
  const loaded = new Map<string, LoadedModel>();
  const refused = new Map<string, number>(); // version -> mtime of the file refused, not retried until it changes
  let latest: string | undefined;
  let scanning: Promise<RescanResult> | undefined;
  const modelDir = join(options.storeDir, options.modelName);

  async function scan(): Promise<RescanResult> {
    let entries: string[];
    try {
      entries = (await readdir(modelDir, { withFileTypes: true })).filter((e) => e.isDirectory() && /^\d+$/.test(e.name)).map((e) => e.name);
    } catch (error) {
      // Unreadable is not empty: unloading everything here would stop serving on a glitch.
      options.log.warn({ err: error, modelDir }, 'model store cannot be read');
      return { loaded: [], unloaded: [] };
    }
    const added: string[] = [];
    // Highest first, until the policy's number of versions serve: a refused version does not
    // count, so a corrupt new file never pushes out a good older one.
    let serving = 0;
    for (const version of entries.sort((a, b) => Number(b) - Number(a))) {
      if (serving >= options.versionsKept) break;
      const file = join(modelDir, version, 'model.onnx');
      let mtime: number;
      try {
        mtime = (await stat(file)).mtimeMs;
      } catch {
        if (loaded.has(version)) serving++; // its file is being replaced: the loaded one serves on
        continue; // or a version folder still being written
      }
      const current = loaded.get(version);
      // Like Triton polling its repository, a file changed in place is loaded again.
      if (current && current.mtime === mtime) {
        serving++;
        continue;
      }
      if (refused.get(version) === mtime) {
        if (current) serving++;
        continue;
      }
      try {
        const session = await loadPreferenceSession(file, version, options.provider, options.intraOpThreads ?? 0);
        const batcher = createBatcher({ ...options.batching, run: (batch) => session.run(batch) });
        // Swapped in one step, so callers move to the new file at once; the old one finishes
        // what it had queued (nothing can reach it any more), then is freed.
        loaded.set(version, { session, batcher, mtime });
        if (current) {
          retire(version, current, 'model version replaced by a changed file').catch((error) =>
            options.log.error({ err: error, model: options.modelName, version }, 'replaced model version could not be freed'),
          );
        }
        added.push(version);
        serving++;
        options.log.info({ model: options.modelName, version, metadata: session.metadata }, current ? 'model version reloaded' : 'model version loaded');
      } catch (error) {
        refused.set(version, mtime);
        if (current) serving++;
        options.log.error({ err: error, model: options.modelName, version }, 'model version refused; previous versions keep serving');
      }
    }
    const removed = await unloadPastPolicy(new Set(entries));
    return { loaded: added.sort((a, b) => Number(a) - Number(b)), unloaded: removed };
  }

  /** Keeps the highest `versionsKept` loaded versions still in the store; unloads the rest. */
  async function unloadPastPolicy(inStore: Set<string>): Promise<string[]> {
    const byRank = [...loaded.keys()].filter((v) => inStore.has(v)).sort((a, b) => Number(b) - Number(a));
    const keep = new Set(byRank.slice(0, options.versionsKept));
    const retired = [...loaded.entries()].filter(([version]) => !keep.has(version));
    // Out of service at once (get() no longer finds them, and latest moves), before any await:
    // callers look a version up and submit to its batcher in one synchronous step, so nothing
    // can reach a retired batcher after this line.
    for (const [version] of retired) loaded.delete(version);
    latest = byRank[0];
    for (const [version, model] of retired) {
      await retire(version, model, inStore.has(version) ? 'model version unloaded (past the version policy)' : 'model version unloaded (gone from the store)');
    }
    return retired.map(([version]) => version).sort((a, b) => Number(a) - Number(b));
  }

  /** Frees a version already out of the registry, once it has answered what it had queued. */
  async function retire(version: string, model: LoadedModel, why: string) {
    await model.batcher.drain();
    await model.session.release();
    options.log.info({ model: options.modelName, version }, why);
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
