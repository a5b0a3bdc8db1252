// Which model serves a tenant: its own PROMOTED version in the registry (the truth), else the
// shipped base model when the dimensions match, else none, with what to do about it. The
// answer is cached per tenant; a promotion anywhere (an event) refreshes that tenant's entry
// only after this instance's scorer holds the new version, so no request waits for a load and
// a promotion for one tenant never touches another's answers.
import type { Logger } from '../logger.js';
import type { Predictor } from '../inference/predictor.js';
import type { ModelRegistryRepository } from '../repositories/model-registry.repository.js';

export type ServingModel =
  | { kind: 'tenant'; version: number; /** The version that served before it, if any: used while this one cannot load. */ previous: number | null }
  | { kind: 'base'; version: string }
  | { kind: 'none'; reason: string };

/** What a tenant needs before training makes it a model (the training settings), for the reason given. */
export interface TrainingRequirements {
  minUsers: number;
  minHeldOutUsers: number;
  /** When the nightly run starts, in words (e.g. "03:00 UTC"). */
  schedule: string;
}

export interface ServingModelOptions {
  registry: Pick<ModelRegistryRepository, 'servingVersions'>;
  predictor: Pick<Predictor, 'baseModel' | 'unavailableReason' | 'loadTenantModel'>;
  requirements: TrainingRequirements;
  log: Logger;
  /** How long a cached answer is trusted without an event (a backstop for missed events). */
  cacheTtlMs?: number;
}

interface Own {
  at: number;
  own: { version: number; previous: number | null } | null;
}

export function untrainedReason(r: TrainingRequirements, why: string): string {
  return (
    `no model for this tenant yet: it trains when it has ${r.minUsers} users with at least 2 likes and 2 dislikes each, ` +
    `and ${r.minHeldOutUsers} more held out to evaluate it (the nightly run at ${r.schedule}, or startTraining now); ${why}`
  );
}

export function createServingModels(o: ServingModelOptions) {
  const ttl = o.cacheTtlMs ?? 60_000;
  const cache = new Map<string, Own>();
  const pending = new Map<string, Promise<Own>>();

  async function read(tenantId: string): Promise<Own> {
    const { promoted, previous } = await o.registry.servingVersions(tenantId);
    return { at: Date.now(), own: promoted === null ? null : { version: promoted, previous } };
  }

  async function own(tenantId: string): Promise<Own['own']> {
    const hit = cache.get(tenantId);
    if (hit && Date.now() - hit.at < ttl) return hit.own;
    let reading = pending.get(tenantId);
    if (!reading) {
      reading = read(tenantId)
        .then((entry) => (cache.set(tenantId, entry), entry))
        .finally(() => pending.delete(tenantId));
      pending.set(tenantId, reading);
    }
    return (await reading).own;
  }

  return {
    /**
     * `fresh` reads the registry itself instead of this instance's cached answer, and leaves
     * the cache alone (scoring keeps its rule: a new version only once this instance holds it).
     */
    async resolve(tenantId: string, dim: number, { fresh = false } = {}): Promise<ServingModel> {
      const mine = fresh ? (await read(tenantId)).own : await own(tenantId);
      if (mine) return { kind: 'tenant', version: mine.version, previous: mine.previous };
      const base = await o.predictor.baseModel();
      if (!base) {
        // The workers are away (say so, as that is what to fix), or no base model is installed.
        const away = o.predictor.unavailableReason();
        return { kind: 'none', reason: away ?? untrainedReason(o.requirements, 'meanwhile no base model is loaded') };
      }
      if (base.embeddingDim !== dim) {
        return {
          kind: 'none',
          reason: untrainedReason(
            o.requirements,
            `meanwhile the shipped base model takes item vectors of dimension ${base.embeddingDim}, and this tenant's are ${dim}`,
          ),
        };
      }
      return { kind: 'base', version: base.version };
    },

    /**
     * A version of this tenant was promoted (on any instance): has the scorer load it, then
     * reads the registry again. Resolves when this instance serves what the registry says.
     */
    async promoted(tenantId: string): Promise<void> {
      const outcomes = await o.predictor.loadTenantModel(tenantId);
      for (const outcome of outcomes.filter((x) => !x.ok)) {
        // Not fatal: a worker that is away loads the version on its first request.
        o.log.warn({ tenantId, target: outcome.target, error: outcome.error }, 'a worker did not load the promoted model version ahead of traffic');
      }
      cache.set(tenantId, await read(tenantId));
    },

    /** Events may have been missed (a gap in the event stream): read every tenant again on next use. */
    forgetAll(): void {
      cache.clear();
    },

    /** The tenant was deleted. */
    forget(tenantId: string): void {
      cache.delete(tenantId);
    },
  };
}

export type ServingModels = ReturnType<typeof createServingModels>;
