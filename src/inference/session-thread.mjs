// Runs one onnxruntime session on its own thread. onnxruntime-node's session.run() computes
// synchronously on the calling thread, so in the worker's HTTP thread every run would stall
// request handling; here HTTP parsing and model compute overlap. Plain JavaScript, so the
// thread starts the same way under tsx, vitest or a plain `node` (no TypeScript loader needed).
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

const session = await ort.InferenceSession.create(workerData.bytes, workerData.options);
const describe = (m) => ({ name: m.name, isTensor: m.isTensor, type: m.type, shape: m.shape ? [...m.shape] : [] });
parentPort.postMessage({ type: 'ready', inputs: session.inputMetadata.map(describe), outputs: session.outputMetadata.map(describe) });

parentPort.on('message', async ({ id, batch }) => {
  try {
    const { B, H, T, D } = batch;
    const out = await session.run({
      history: new ort.Tensor('float32', batch.history, [B, H, D]),
      history_label: new ort.Tensor('int64', batch.historyLabel, [B, H]),
      history_mask: new ort.Tensor('bool', batch.historyMask, [B, H]),
      candidates: new ort.Tensor('float32', batch.candidates, [B, T, D]),
    });
    // Fresh copies, so their buffers can move to the other thread without a second copy.
    const logits = Float32Array.from(out.logits.data);
    const userEmbedding = Float32Array.from(out.user_embedding.data);
    parentPort.postMessage({ type: 'result', id, logits, userEmbedding }, [logits.buffer, userEmbedding.buffer]);
  } catch (error) {
    parentPort.postMessage({ type: 'result', id, error: String(error?.message ?? error) });
  }
});
