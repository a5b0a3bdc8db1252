// The model's inputs and outputs for B users at once, as flat typed arrays (row-major).

export interface ScoreBatch {
  B: number;
  H: number;
  T: number;
  D: number;
  history: Float32Array; // [B, H, D]
  historyLabel: BigInt64Array; // [B, H]
  historyMask: Uint8Array; // [B, H], 1 = slot holds an interaction
  candidates: Float32Array; // [B, T, D]
}

export interface ScoreOutput {
  B: number;
  T: number;
  E: number;
  logits: Float32Array; // [B, T, 2]
  userEmbedding: Float32Array; // [B, E]
}

/**
 * The batch with one zero candidate per user in place of none: what the graph needs to give
 * user representations (which do not depend on candidates) when no one asked for scores.
 */
export function withPlaceholderCandidates(batch: ScoreBatch): ScoreBatch {
  return batch.T > 0 ? batch : { ...batch, T: 1, candidates: new Float32Array(batch.B * batch.D) };
}

/**
 * The batch with one masked history slot per user in place of none. A user with no likes yet is
 * scored from no history (padded slots change nothing, CONTRACTS.md section 3), but a history
 * of length 0 is no tensor every graph takes: the networks whose history attends to itself
 * alone (`--token-attention cross`, the nightly's design) fail in a Reshape at H = 0, and every
 * such user was scored by the fallback instead.
 */
export function withPlaceholderHistory(batch: ScoreBatch): ScoreBatch {
  if (batch.H > 0) return batch;
  const { B, D } = batch;
  return { ...batch, H: 1, history: new Float32Array(B * D), historyLabel: new BigInt64Array(B), historyMask: new Uint8Array(B) };
}

/** Builds a one-user batch from history rows and candidate vectors. */
export function userBatch(D: number, history: { vector: ArrayLike<number>; like: boolean }[], candidates: ArrayLike<number>[]): ScoreBatch {
  const H = history.length;
  const T = candidates.length;
  const batch: ScoreBatch = {
    B: 1,
    H,
    T,
    D,
    history: new Float32Array(H * D),
    historyLabel: new BigInt64Array(H),
    historyMask: new Uint8Array(H).fill(1),
    candidates: new Float32Array(T * D),
  };
  history.forEach((h, i) => {
    batch.history.set(h.vector, i * D);
    batch.historyLabel[i] = h.like ? 1n : 0n;
  });
  candidates.forEach((c, i) => batch.candidates.set(c, i * D));
  return batch;
}

/**
 * Stacks batches along B, padding every history to the longest H (masked slots), and at least
 * one slot, so what the API sends a worker (or Triton) never holds a history of length 0
 * (withPlaceholderHistory), and every candidate list to the longest T (extra candidates are
 * scored and dropped: candidates are independent, so padding them changes no real candidate's
 * logits).
 */
export function stackBatches(parts: readonly ScoreBatch[]): ScoreBatch {
  const D = parts[0].D;
  const B = parts.reduce((n, p) => n + p.B, 0);
  const H = Math.max(1, ...parts.map((p) => p.H));
  const T = Math.max(...parts.map((p) => p.T));
  const out: ScoreBatch = {
    B,
    H,
    T,
    D,
    history: new Float32Array(B * H * D),
    historyLabel: new BigInt64Array(B * H),
    historyMask: new Uint8Array(B * H),
    candidates: new Float32Array(B * T * D),
  };
  let row = 0;
  for (const p of parts) {
    for (let b = 0; b < p.B; b++, row++) {
      out.history.set(p.history.subarray(b * p.H * D, (b + 1) * p.H * D), row * H * D);
      out.historyLabel.set(p.historyLabel.subarray(b * p.H, (b + 1) * p.H), row * H);
      out.historyMask.set(p.historyMask.subarray(b * p.H, (b + 1) * p.H), row * H);
      out.candidates.set(p.candidates.subarray(b * p.T * D, (b + 1) * p.T * D), row * T * D);
    }
  }
  return out;
}

/** Cuts a stacked output back into the parts' shapes (inverse of stackBatches). */
export function splitOutput(output: ScoreOutput, parts: readonly ScoreBatch[]): ScoreOutput[] {
  const { T, E } = output;
  let row = 0;
  return parts.map((p) => {
    const logits = new Float32Array(p.B * p.T * 2);
    for (let b = 0; b < p.B; b++) logits.set(output.logits.subarray((row + b) * T * 2, (row + b) * T * 2 + p.T * 2), b * p.T * 2);
    const userEmbedding = output.userEmbedding.slice(row * E, (row + p.B) * E);
    row += p.B;
    return { B: p.B, T: p.T, E, logits, userEmbedding };
  });
}

/** Q = softmax(logits)[like] = sigmoid(M+ - M-), per candidate. */
export function likeProbabilities(logits: Float32Array): Float32Array {
  const out = new Float32Array(logits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = 1 / (1 + Math.exp(logits[2 * i + 1] - logits[2 * i]));
  return out;
}
