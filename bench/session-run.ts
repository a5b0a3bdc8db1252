// Raw onnxruntime session.run timing shared by the inference benchmarks: the model's inputs
// for `users` copies of one user, and milliseconds per run back to back.
import * as ort from 'onnxruntime-node';
import { userBatch, type ScoreBatch } from '../src/inference/tensors.js';

export type Feeds = Record<'history' | 'history_label' | 'history_mask' | 'candidates', ort.Tensor>;

/** One user's request with fixed values (alternating likes and dislikes); `seed` varies them. */
export function oneUser(D: number, history: number, candidates: number, seed = 0): ScoreBatch {
  const v = (k: number) => Array.from({ length: D }, (_, d) => Math.sin(seed * 31 + k * 7 + d));
  return userBatch(
    D,
    Array.from({ length: history }, (_, k) => ({ vector: v(k), like: k % 2 === 0 })),
    Array.from({ length: candidates }, (_, k) => v(100 + k)),
  );
}

/** `users` copies of oneUser(D, history, candidates). */
export function tiledFeeds(D: number, users: number, history: number, candidates: number): Feeds {
  const one = oneUser(D, history, candidates);
  // typed-array set is per type, hence the casts
  const tile = <T extends Float32Array | BigInt64Array | Uint8Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(a.length * users);
    for (let u = 0; u < users; u++) (out as unknown as Float32Array).set(a as unknown as Float32Array, u * a.length);
    return out;
  };
  return {
    history: new ort.Tensor('float32', tile(one.history), [users, history, D]),
    history_label: new ort.Tensor('int64', tile(one.historyLabel), [users, history]),
    history_mask: new ort.Tensor('bool', tile(one.historyMask), [users, history]),
    candidates: new ort.Tensor('float32', tile(one.candidates), [users, candidates, D]),
  };
}

/** Milliseconds per session.run on `feeds`, run back to back for `seconds` after a short warm-up. */
export async function msPerRun(session: ort.InferenceSession, feeds: Feeds, seconds: number): Promise<number> {
  for (let i = 0; i < 5; i++) await session.run(feeds);
  let runs = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await session.run(feeds);
    runs++;
  }
  return (performance.now() - started) / runs;
}
