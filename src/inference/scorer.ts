// What the API needs from inference, whoever does it: the worker over HTTP, or the same
// registry and batcher in this process (the embedded default).
import type { ModelRegistry } from './model-registry.js';
import type { ScoreBatch, ScoreOutput } from './tensors.js';

export interface ModelInfo {
  version: string;
  embeddingDim: number;
}

export interface Scorer {
  /** The model that would answer now, or undefined when none is available. */
  modelInfo(): Promise<ModelInfo | undefined>;
  /** Why modelInfo() found none, when it knows (for degradedReason). */
  unavailableReason?(): string | undefined;
  score(batch: ScoreBatch, deadline: number): Promise<{ output: ScoreOutput; version: string }>;
  close(): Promise<void>;
}

export function createInProcessScorer(registry: ModelRegistry): Scorer {
  return {
    async modelInfo() {
      const model = registry.get();
      return model && { version: model.session.version, embeddingDim: model.session.embeddingDim };
    },
    async score(batch, deadline) {
      const model = registry.get();
      if (!model) throw new Error('no model version is loaded');
      return { output: await model.batcher.submit(batch, deadline), version: model.session.version };
    },
    close: () => registry.close(),
  };
}
