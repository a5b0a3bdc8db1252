// The cheap fallback ranking when no model can answer: cosine to the mean liked vector minus
// cosine to the mean disliked vector (the "history centroid" baseline of the model benchmark),
// mapped from [-2, 2] to [0, 1] so it reads like the model's like probability.

function meanUnit(vectors: readonly ArrayLike<number>[], dim: number): Float64Array | undefined {
  if (vectors.length === 0) return undefined;
  const mean = new Float64Array(dim);
  for (const v of vectors) for (let i = 0; i < dim; i++) mean[i] += v[i];
  const norm = Math.hypot(...mean);
  return norm === 0 ? undefined : mean.map((x) => x / norm);
}

function cosine(a: ArrayLike<number>, unit: Float64Array | undefined): number {
  if (!unit) return 0;
  let dot = 0;
  let norm = 0;
  for (let i = 0; i < unit.length; i++) {
    dot += a[i] * unit[i];
    norm += a[i] * a[i];
  }
  return norm === 0 ? 0 : dot / Math.sqrt(norm);
}

export function centroidScores(history: readonly { vector: ArrayLike<number>; like: boolean }[], candidates: readonly ArrayLike<number>[]): number[] {
  const dim = candidates[0]?.length ?? 0;
  const liked = meanUnit(
    history.filter((h) => h.like).map((h) => h.vector),
    dim,
  );
  const disliked = meanUnit(
    history.filter((h) => !h.like).map((h) => h.vector),
    dim,
  );
  return candidates.map((c) => (cosine(c, liked) - cosine(c, disliked) + 2) / 4);
}
