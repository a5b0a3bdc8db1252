// Every model a worker (or the API's in-process scorer) serves, by Open Inference Protocol
// name: the shipped base model "preference" from its registry (polled, Triton's version
// policy), and each tenant's own "tenant-<id>" loaded on demand within a memory budget.
import type { ModelRegistry, ServedModel } from './model-registry.js';
import { BASE_MODEL, isTenantModelName } from './model-names.js';
import { ModelNotFoundError, type RepositoryEntry, type TenantModels } from './tenant-models.js';

export interface ModelLoadResult {
  /** Versions loaded by this call. */
  loaded: string[];
  /** Base model: versions unloaded (past the policy). */
  unloaded: string[];
  /** Versions whose file was refused, with why. */
  refused: { version: string; error: string }[];
  /** Versions loaded now. */
  versions: string[];
  /** The version this load was to serve (a tenant's config.pbtxt lists it first). */
  serving?: string;
}

export class BaseModelUnloadError extends Error {
  readonly status = 400;
  constructor() {
    super(`model ${BASE_MODEL} is the base model every tenant without its own model is scored by; it is not unloaded (a new version replaces it)`);
    this.name = 'BaseModelUnloadError';
  }
}

export interface ModelStore {
  /** The version asked for (the served one when none), loading a tenant's version if needed. */
  acquire(name: string, version?: string): Promise<ServedModel>;
  /** Triton's repository load: base → look for new versions; tenant → the versions config.pbtxt names. */
  load(name: string): Promise<ModelLoadResult>;
  /** Triton's repository unload: a tenant's model leaves memory (and loads again on next use). */
  unload(name: string): Promise<{ unloaded: string[] }>;
  /** Triton's repository index: every model version the store holds, READY if loaded. */
  index(): Promise<RepositoryEntry[]>;
  versions(name: string): string[];
  /** The base model serves (readiness). */
  baseReady(): boolean;
  base: ModelRegistry;
  tenants: TenantModels;
  close(): Promise<void>;
}

export function createModelStore(base: ModelRegistry, tenants: TenantModels): ModelStore {
  return {
    base,
    tenants,
    async acquire(name, version) {
      if (name === BASE_MODEL) {
        const model = base.get(version);
        if (!model) throw new ModelNotFoundError(version ? `model ${name} has no version ${version}` : `model ${name} has no ready version`);
        return model;
      }
      if (!isTenantModelName(name)) throw new ModelNotFoundError(`unknown model ${name}`);
      return tenants.acquire(name, version);
    },
    async load(name) {
      if (name === BASE_MODEL) {
        const { loaded, unloaded } = await base.rescan();
        return { loaded, unloaded, refused: [], versions: base.versions() };
      }
      if (!isTenantModelName(name)) throw new ModelNotFoundError(`unknown model ${name}`);
      const before = new Set(tenants.versions(name));
      const report = await tenants.loadModel(name);
      return {
        loaded: report.loaded.filter((v) => !before.has(v)),
        unloaded: [],
        refused: report.refused,
        versions: tenants.versions(name),
        serving: report.serving,
      };
    },
    async unload(name) {
      // The base model is what every tenant without a model of its own is scored by, and the
      // worker's readiness: it stays. (Triton would unload it; ours refuses, saying why.)
      if (name === BASE_MODEL) throw new BaseModelUnloadError();
      if (!isTenantModelName(name)) throw new ModelNotFoundError(`unknown model ${name}`);
      return { unloaded: await tenants.unloadModel(name) };
    },
    async index() {
      const baseEntries = base.versions().map((version): RepositoryEntry => ({ name: BASE_MODEL, version, state: 'READY', reason: '' }));
      return [...baseEntries, ...(await tenants.repositoryIndex())];
    },
    versions: (name) => (name === BASE_MODEL ? base.versions() : tenants.versions(name)),
    baseReady: () => base.get() !== undefined,
    async close() {
      await base.close();
      await tenants.close();
    },
  };
}
