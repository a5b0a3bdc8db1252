// Order statistics the index and score benches report (the older benches keep their own copies).

/** The p-th quantile of an ascending array (the element at floor(p * n)); 0 for an empty one. */
export const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

/** The median of any array (the upper one of an even count), left unsorted. */
export const median = (xs: readonly number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
