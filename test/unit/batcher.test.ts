import { describe, expect, it } from 'vitest';
import { createBatcher, DeadlineExceededError, OverloadedError } from '../../src/inference/batcher.js';
import { stackBatches, userBatch, withPlaceholderHistory, type ScoreBatch, type ScoreOutput } from '../../src/inference/tensors.js';

const D = 3;

/** A stand-in model: logit[t] = [sum of candidate t + number of history slots, 0]. Deterministic per row. */
async function fakeRun(batch: ScoreBatch): Promise<ScoreOutput> {
  const logits = new Float32Array(batch.B * batch.T * 2);
  for (let b = 0; b < batch.B; b++) {
    let slots = 0;
    for (let h = 0; h < batch.H; h++) slots += batch.historyMask[b * batch.H + h];
    for (let t = 0; t < batch.T; t++) {
      let sum = 0;
      for (let d = 0; d < D; d++) sum += batch.candidates[(b * batch.T + t) * D + d];
      logits[(b * batch.T + t) * 2] = sum + slots;
    }
  }
  return { B: batch.B, T: batch.T, E: 1, logits, userEmbedding: new Float32Array(batch.B).fill(1) };
}

function request(i: number): ScoreBatch {
  const history = Array.from({ length: 1 + (i % 4) }, (_, h) => ({ vector: [h, i, 1], like: h % 2 === 0 }));
  const candidates = Array.from({ length: 1 + (i % 5) }, (_, t) => [t, i, -t]);
  return userBatch(D, history, candidates);
}

describe('dynamic batcher', () => {
  it('runs waiting interactive requests before waiting background ones, FIFO within each', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const batcher = createBatcher({
      // One request per run, the first run held until every other request has queued.
      run: async (b) => {
        order.push(String(b.history[1 * 1 + 0 * D]));
        if (order.length === 1) await gate;
        return fakeRun(b);
      },
      maxBatchSize: 1,
      maxQueueDelayMs: 0,
      maxQueueSize: 1000,
    });
    const done = [
      batcher.submit(request(0)),
      batcher.submit(request(1), undefined, { background: true }),
      batcher.submit(request(2), undefined, { background: true }),
      batcher.submit(request(3)),
      batcher.submit(request(4)),
    ];
    release();
    await Promise.all(done);
    // Request i's second history number is i: 0 was running; 3 and 4 overtook the background 1 and 2.
    expect(order).toEqual(['0', '3', '4', '1', '2']);
  });

  it('merges concurrent requests into fewer runs with the same results as one by one', async () => {
    const runs: number[] = [];
    const batcher = createBatcher({
      run: async (b) => (runs.push(b.B), fakeRun(b)),
      maxBatchSize: 16,
      maxQueueDelayMs: 5,
      maxQueueSize: 1000,
    });
    const requests = Array.from({ length: 40 }, (_, i) => request(i));
    const batched = await Promise.all(requests.map((r) => batcher.submit(r)));
    const alone = await Promise.all(requests.map(fakeRun));
    expect(batched.map((o) => Array.from(o.logits))).toEqual(alone.map((o) => Array.from(o.logits)));
    expect(runs.length).toBeLessThanOrEqual(4);
    expect(Math.max(...runs)).toBeLessThanOrEqual(16);
    expect(runs.reduce((a, b) => a + b, 0)).toBe(40);
  });

  it('with a batch size of 1, runs each request alone', async () => {
    const runs: number[] = [];
    const batcher = createBatcher({ run: async (b) => (runs.push(b.B), fakeRun(b)), maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 100 });
    await Promise.all(Array.from({ length: 5 }, (_, i) => batcher.submit(request(i))));
    expect(runs).toEqual([1, 1, 1, 1, 1]);
  });

  it('refuses at once when the queue is full', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const batcher = createBatcher({ run: async (b) => (await gate, fakeRun(b)), maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 2 });
    const first = batcher.submit(request(0)); // running
    const queued = [batcher.submit(request(1)), batcher.submit(request(2))];
    await expect(batcher.submit(request(3))).rejects.toBeInstanceOf(OverloadedError);
    release();
    await Promise.all([first, ...queued]);
  });

  it('drops a request whose deadline passed before compute, without running it', async () => {
    let ran = 0;
    const batcher = createBatcher({ run: async (b) => ((ran += b.B), fakeRun(b)), maxBatchSize: 8, maxQueueDelayMs: 30, maxQueueSize: 100 });
    const late = batcher.submit(request(0), Date.now() + 5);
    const fine = batcher.submit(request(1), Date.now() + 10_000);
    await expect(late).rejects.toBeInstanceOf(DeadlineExceededError);
    await fine;
    expect(ran).toBe(1);
  });

  it('starts the next run before answering the callers of the finished one', async () => {
    // Answering resumes every caller (in the worker: encoding and writing HTTP responses);
    // the model must not wait for that.
    const events: string[] = [];
    let releaseFirst!: () => void;
    const gate = new Promise<void>((r) => (releaseFirst = r));
    let calls = 0;
    const batcher = createBatcher({
      run: async (b) => {
        const n = calls++;
        events.push(`run ${n}`);
        if (n === 0) await gate;
        return fakeRun(b);
      },
      maxBatchSize: 4,
      maxQueueDelayMs: 0,
      maxQueueSize: 100,
    });
    const first = batcher.submit(request(0)).then(() => events.push('answered 0'));
    await new Promise((r) => setImmediate(r)); // the first run is in progress
    const second = batcher.submit(request(1)).then(() => events.push('answered 1'));
    releaseFirst();
    await Promise.all([first, second]);
    expect(events).toEqual(['run 0', 'run 1', 'answered 0', 'answered 1']);
  });

  it('a run that answers with a malformed output fails its requests, and the batcher goes on', async () => {
    let calls = 0;
    const batcher = createBatcher({
      run: async (b) => (calls++ === 0 ? ({} as ScoreOutput) : fakeRun(b)),
      maxBatchSize: 2,
      maxQueueDelayMs: 1,
      maxQueueSize: 100,
    });
    const results = await Promise.allSettled([0, 1, 2, 3].map((i) => batcher.submit(request(i))));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
  });

  it('a failing run fails only its own requests', async () => {
    let calls = 0;
    const batcher = createBatcher({
      run: async (b) => {
        if (calls++ === 0) throw new Error('boom');
        return fakeRun(b);
      },
      maxBatchSize: 2,
      maxQueueDelayMs: 1,
      maxQueueSize: 100,
    });
    const results = await Promise.allSettled([0, 1, 2, 3].map((i) => batcher.submit(request(i))));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    await batcher.drain();
  });
});

describe('stacking batches', () => {
  it('pads histories and candidates, and padded slots are masked', () => {
    const stacked = stackBatches([request(0), request(3)]);
    expect([stacked.B, stacked.H, stacked.T]).toEqual([2, 4, 4]);
    expect(Array.from(stacked.historyMask)).toEqual([1, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('gives users with no history one masked slot, never a history of length 0 (which the shipped graphs refuse)', () => {
    const cold = userBatch(D, [], [[1, 2, 3]]);
    const stacked = stackBatches([cold, cold]);
    expect([stacked.B, stacked.H, stacked.T]).toEqual([2, 1, 1]);
    expect(Array.from(stacked.historyMask)).toEqual([0, 0]);
    expect(stacked.history).toHaveLength(2 * D);
    expect(withPlaceholderHistory(cold)).toMatchObject({ B: 1, H: 1, T: 1, historyMask: new Uint8Array(1) });
    expect(withPlaceholderHistory(request(1))).toEqual(request(1)); // a history already: unchanged
  });
});
