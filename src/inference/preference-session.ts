// One loaded model version: an onnxruntime session checked against the contract, with its
// metadata. run() is the only way to compute; the batcher is its only caller.
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { messageOf } from '../errors.js';
import { checkModelContract, type ModelShape } from './model-contract.js';
import { readOnnxMetadata } from './onnx-metadata.js';
import { withPlaceholderHistory, type ScoreBatch, type ScoreOutput } from './tensors.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface PreferenceSession extends ModelShape {
  version: string;
  metadata: Record<string, string>;
  provider: ExecutionProvider;
  run(batch: ScoreBatch): Promise<ScoreOutput>;
  release(): Promise<void>;
}

/**
 * The session on a thread of its own (session-thread.mjs): run() posts the batch there and
 * resolves when the thread answers, so the caller's event loop stays free meanwhile.
 */
async function loadOnThread(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions) {
  const thread = new Worker(new URL('./session-thread.mjs', import.meta.url), { workerData: { bytes, options } });
  const pending = new Map<number, { resolve: (r: { logits: Float32Array; userEmbedding: Float32Array }) => void; reject: (e: Error) => void }>();
  let next = 0;
  let released = false;
  const ready = new Promise<{ inputs: ort.InferenceSession.ValueMetadata[]; outputs: ort.InferenceSession.ValueMetadata[] }>((resolve, reject) => {
    thread.once('error', reject);
    // The thread's messages (session-thread.mjs): ready with the metadata, then one per run.
    type ThreadMessage =
      | { type: 'ready'; inputs: ort.InferenceSession.ValueMetadata[]; outputs: ort.InferenceSession.ValueMetadata[] }
      | { type?: undefined; id: number; error?: string; logits: Float32Array; userEmbedding: Float32Array };
    thread.on('message', (message: ThreadMessage) => {
      if (message.type === 'ready') return resolve(message);
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) waiter?.reject(new Error(message.error));
      else waiter?.resolve(message);
    });
  });
  // A thread that dies fails what it was computing instead of leaving it waiting.
  thread.on('error', (error) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  });
  const metadata = await ready;
  return {
    inputMetadata: metadata.inputs,
    outputMetadata: metadata.outputs,
    run: (batch: ScoreBatch) =>
      new Promise<{ logits: Float32Array; userEmbedding: Float32Array }>((resolve, reject) => {
        if (released) return reject(new Error('model session released'));
        const id = next++;
        pending.set(id, { resolve, reject });
        thread.postMessage({ id, batch });
      }),
    release: async () => {
      // Nothing should be waiting (the registry drains a version before releasing it), but a
      // run sent to a terminated thread would never be answered: fail it instead of hanging.
      released = true;
      await thread.terminate();
      for (const waiter of pending.values()) waiter.reject(new Error('model session released'));
      pending.clear();
    },
  };
}

/** Loads and checks a model file; throws (naming the file and the problem) if it is not a usable preference model. */
export async function loadPreferenceSession(
  path: string,
  version: string,
  provider: ExecutionProvider = 'cpu',
  intraOpThreads = 0,
): Promise<PreferenceSession> {
  const bytes = new Uint8Array(await readFile(path));
  let metadata: Record<string, string>;
  let session: Awaited<ReturnType<typeof loadOnThread>>;
  try {
    metadata = readOnnxMetadata(bytes);
    // 0 leaves onnxruntime's default (one thread per core).
    session = await loadOnThread(bytes, {
      executionProviders: provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      ...(intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {}),
    });
  } catch (error) {
    throw new Error(`${path}: cannot load as ONNX (${messageOf(error)})`, { cause: error });
  }
  let shape: ModelShape;
  try {
    shape = checkModelContract(session.inputMetadata, session.outputMetadata, metadata);
  } catch (error) {
    await session.release();
    throw new Error(`${path}: ${messageOf(error)}`, { cause: error });
  }
  return {
    ...shape,
    version,
    metadata,
    provider,
    async run(batch) {
      if (batch.D !== shape.embeddingDim) throw new Error(`history: expected item vectors of dimension ${shape.embeddingDim}, got ${batch.D}`);
      // A batch from a client of the worker may hold users with no history at all.
      const { logits, userEmbedding } = await session.run(withPlaceholderHistory(batch));
      return { B: batch.B, T: batch.T, E: userEmbedding.length / batch.B, logits, userEmbedding };
    },
    release: () => session.release(),
  };
}
