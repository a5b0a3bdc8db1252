// The one door from services into inference: they pass item vectors and which model (a
// tenant's own version, or the shipped base model) and get like probabilities back. Tensor
// layout and Open Inference Protocol model names stay on this side.
import { BASE_MODEL, tenantModelName } from './model-names.js';
import type { LoadOutcome, ModelInfo, ModelRef, Scorer } from './scorer.js';
import { likeProbabilities, stackBatches, userBatch } from './tensors.js';

/** Which model scores: a tenant's own version (the registry's), or the shipped base model. */
export type ModelChoice = { kind: 'tenant'; tenantId: string; version: number } | { kind: 'base' };

export interface UserToScore {
  /** The user's likes and dislikes, as the model reads them. */
  history: readonly { vector: Float32Array; like: boolean }[];
  candidates: readonly Float32Array[];
}

export interface Prediction {
  /** Like probabilities per user, one per candidate, in the order given. */
  scores: Float32Array[];
  /** The version that answered, as the model store names it. */
  version: string;
}

const refOf = (model: ModelChoice): ModelRef =>
  model.kind === 'tenant' ? { name: tenantModelName(model.tenantId), version: String(model.version) } : { name: BASE_MODEL };

export function createPredictor(scorer: Scorer) {
  return {
    /** Scores every user's candidates in one model call; throws what the scorer throws. */
    async predict(model: ModelChoice, dim: number, users: readonly UserToScore[], deadline: number): Promise<Prediction> {
      const batch = stackBatches(users.map((u) => userBatch(dim, [...u.history], [...u.candidates])));
      const { output, version } = await scorer.score(refOf(model), batch, deadline);
      const q = likeProbabilities(output.logits);
      return { scores: users.map((u, row) => q.slice(row * output.T, row * output.T + u.candidates.length)), version };
    },

    /**
     * Each user's representation (the model's user_embedding) from their history alone, in
     * one model call that scores no candidates.
     */
    async embed(
      model: ModelChoice,
      dim: number,
      histories: readonly UserToScore['history'][],
      deadline: number,
    ): Promise<{ embeddings: Float32Array[]; version: string }> {
      const batch = stackBatches(histories.map((history) => userBatch(dim, [...history], [])));
      const { output, version } = await scorer.embed(refOf(model), batch, deadline);
      const E = output.E;
      return { embeddings: histories.map((_, row) => output.userEmbedding.slice(row * E, (row + 1) * E)), version };
    },

    /** The base model that would answer now (its dimension decides which tenants it can serve). */
    baseModel: (): Promise<ModelInfo | undefined> => scorer.modelInfo(),

    /** Why the base model is unavailable, when known. */
    unavailableReason: () => scorer.unavailableReason?.(),

    /** Has every worker load the tenant's versions that its store's config.pbtxt names. */
    loadTenantModel: (tenantId: string): Promise<LoadOutcome[]> => scorer.load(tenantModelName(tenantId)),
  };
}

export type Predictor = ReturnType<typeof createPredictor>;
