// The one onnxruntime session every vector index of the process multiplies with: similarity.onnx,
// one MatMul of rows [N, D] by columns [D, K]. K = 1 is a scan's matrix-vector product; K > 1
// scores rows against a partition's centroids. onnxruntime's product is several times faster
// than a JavaScript loop over the same Float32Array (npm run bench:vector-index).
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

const SIMILARITY_MODEL = fileURLToPath(new URL('./similarity.onnx', import.meta.url));
let similarity: Promise<ort.InferenceSession> | undefined;

/** One session for every index in the process; one thread, since onnxruntime's pool spins while idle. */
function similaritySession(): Promise<ort.InferenceSession> {
  similarity ??= ort.InferenceSession.create(SIMILARITY_MODEL, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  return similarity;
}

/**
 * rows (`count` x dim, row-major) times columns (dim x k, row-major): count x k products,
 * row-major. Each call is one run, started through setImmediate (onnxruntime-node's run()), so
 * the event loop takes its turn before it.
 */
export type Multiply = (rows: Float32Array, count: number, columns: Float32Array, k: number) => Promise<Float32Array>;

export const multiply: Multiply = async (rows, count, columns, k) => {
  const dim = columns.length / k;
  const session = await similaritySession();
  const { scores } = await session.run({
    vectors: new ort.Tensor('float32', rows.subarray(0, count * dim), [count, dim]),
    query: new ort.Tensor('float32', columns, [dim, k]),
  });
  return scores.data as Float32Array;
};
