// One loaded model version: an onnxruntime session checked against the contract, with its
// metadata. run() is the only way to compute; the batcher is its only caller.
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { checkModelContract, type ModelShape } from './model-contract.js';
import { readOnnxMetadata } from './onnx-metadata.js';
import type { ScoreBatch, ScoreOutput } from './tensors.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface PreferenceSession extends ModelShape {
  version: string;
  metadata: Record<string, string>;
  provider: ExecutionProvider;
  run(batch: ScoreBatch): Promise<ScoreOutput>;
  release(): Promise<void>;
}

/** Loads and checks a model file; throws (naming the file and the problem) if it is not a usable preference model. */
export async function loadPreferenceSession(path: string, version: string, provider: ExecutionProvider = 'cpu', intraOpThreads = 0): Promise<PreferenceSession> {
  const bytes = new Uint8Array(await readFile(path));
  let metadata: Record<string, string>;
  let session: ort.InferenceSession;
  try {
    metadata = readOnnxMetadata(bytes);
    // 0 leaves onnxruntime's default (one thread per core); session.run blocks the event loop
    // in onnxruntime-node, so on a small machine shared with other work 1 can serve better.
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      ...(intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {}),
    });
  } catch (error) {
    throw new Error(`${path}: cannot load as ONNX (${(error as Error).message})`);
  }
  let shape: ModelShape;
  try {
    shape = checkModelContract(session.inputMetadata, session.outputMetadata, metadata);
  } catch (error) {
    await session.release();
    throw new Error(`${path}: ${(error as Error).message}`);
  }
  return {
    ...shape,
    version,
    metadata,
    provider,
    async run(batch) {
      if (batch.D !== shape.embeddingDim) throw new Error(`history: expected item vectors of dimension ${shape.embeddingDim}, got ${batch.D}`);
      const out = await session.run({
        history: new ort.Tensor('float32', batch.history, [batch.B, batch.H, batch.D]),
        history_label: new ort.Tensor('int64', batch.historyLabel, [batch.B, batch.H]),
        history_mask: new ort.Tensor('bool', batch.historyMask, [batch.B, batch.H]),
        candidates: new ort.Tensor('float32', batch.candidates, [batch.B, batch.T, batch.D]),
      });
      const userEmbedding = out.user_embedding.data as Float32Array;
      return { B: batch.B, T: batch.T, E: userEmbedding.length / batch.B, logits: out.logits.data as Float32Array, userEmbedding };
    },
    release: () => session.release(),
  };
}
