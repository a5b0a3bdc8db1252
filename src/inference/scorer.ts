// What the API needs from inference, whoever does it: workers over HTTP, or the same model
// store and batchers in this process (the embedded default).
import type { ModelStore } from './model-store.js';
import { ModelNotFoundError, ModelRefusedError } from './tenant-models.js';
import { withPlaceholderCandidates, type ScoreBatch, type ScoreOutput } from './tensors.js';

export interface ModelInfo {
  version: string;
  embeddingDim: number;
}

/** An Open Inference Protocol model and, optionally, its version (else the one served). */
export interface ModelRef {
  name: string;
  version?: string;
}

/** The model version asked for is not in the store, or its file cannot be loaded. */
export class ModelUnavailableError extends Error {
  constructor(
    readonly model: ModelRef,
    message: string,
  ) {
    super(message);
    this.name = 'ModelUnavailableError';
  }
}

/** What one worker (or this process) answered to a repository load. */
export interface LoadOutcome {
  target: string;
  /** The version to serve loaded (or was loaded already). */
  ok: boolean;
  /** The worker answered, refusing the version (a corrupt or contract-breaking file). */
  refused: boolean;
  error?: string;
}

export interface Scorer {
  /** The base model that would answer now, or undefined when none is available. */
  modelInfo(): Promise<ModelInfo | undefined>;
  /** Why modelInfo() found none, when it knows (for degradedReason). */
  unavailableReason?(): string | undefined;
  score(model: ModelRef, batch: ScoreBatch, deadline: number): Promise<{ output: ScoreOutput; version: string }>;
  /** User representations only (the batch may have no candidates, T = 0); output.logits is empty. */
  embed(model: ModelRef, batch: ScoreBatch, deadline: number): Promise<{ output: ScoreOutput; version: string }>;
  /** Has every worker load a model's versions now (Triton's repository load), before traffic needs them. */
  load(name: string): Promise<LoadOutcome[]>;
  close(): Promise<void>;
}

/** Where nothing scores (tests, the jobs process without workers): no base model, nothing to load. */
export const NO_SCORER: Scorer = {
  modelInfo: async () => undefined,
  score: async () => {
    throw new Error('no model is configured in this process');
  },
  embed: async () => {
    throw new Error('no model is configured in this process');
  },
  load: async () => [],
  close: async () => {},
};

export function createInProcessScorer(store: ModelStore): Scorer {
  async function acquire(model: ModelRef) {
    try {
      return await store.acquire(model.name, model.version);
    } catch (error) {
      if (error instanceof ModelNotFoundError || error instanceof ModelRefusedError) throw new ModelUnavailableError(model, error.message);
      throw error;
    }
  }
  return {
    async modelInfo() {
      const model = store.base.get();
      return model && { version: model.session.version, embeddingDim: model.session.embeddingDim };
    },
    async score(model, batch, deadline) {
      const served = await acquire(model);
      return { output: await served.batcher.submit(batch, deadline), version: served.session.version };
    },
    async embed(model, batch, deadline) {
      const served = await acquire(model);
      const output = await served.batcher.submit(withPlaceholderCandidates(batch), deadline, { background: true });
      return { output: { ...output, T: 0, logits: new Float32Array(0) }, version: served.session.version };
    },
    async load(name) {
      try {
        const result = await store.load(name);
        const refused = result.refused.find((r) => r.version === result.serving);
        return [{ target: 'in-process', ok: !refused, refused: !!refused, error: refused?.error }];
      } catch (error) {
        return [{ target: 'in-process', ok: false, refused: false, error: (error as Error).message }];
      }
    },
    close: () => store.close(),
  };
}
