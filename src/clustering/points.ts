// Points as one row-major Float32Array (n rows of dim numbers): 100,000 users' representations
// fit in one allocation, and the loops below stay on typed arrays.
import { createRandom, type Random } from '../synth/random.js';

export interface Points {
  n: number;
  dim: number;
  /** Row-major, n * dim. */
  data: Float32Array;
}

export function pointsOf(rows: readonly ArrayLike<number>[], dim = rows[0]?.length ?? 0): Points {
  const data = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => {
    if (row.length !== dim) throw new Error(`points: row ${i} has ${row.length} numbers, expected ${dim}`);
    data.set(row, i * dim);
  });
  return { n: rows.length, dim, data };
}

export function row(points: Points, i: number): Float32Array {
  return points.data.subarray(i * points.dim, (i + 1) * points.dim);
}

/** Squared Euclidean distance between row i of `a` and row j of `b` (b's data as a flat array). */
export function squaredDistance(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, dim: number): number {
  let sum = 0;
  const ai = i * dim;
  const bj = j * dim;
  for (let d = 0; d < dim; d++) {
    const diff = a[ai + d] - b[bj + d];
    sum += diff * diff;
  }
  return sum;
}

/** The rows at `indices`, as points of their own (a sample). */
export function subset(points: Points, indices: ArrayLike<number>): Points {
  const data = new Float32Array(indices.length * points.dim);
  for (let i = 0; i < indices.length; i++) data.set(row(points, indices[i]), i * points.dim);
  return { n: indices.length, dim: points.dim, data };
}

/** `size` distinct indices of [0, n), uniformly, by a partial Fisher-Yates shuffle; all when size >= n. */
export function sampleIndices(n: number, size: number, random: Random): Int32Array {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const take = Math.min(size, n);
  for (let i = 0; i < take; i++) {
    const j = i + random.int(n - i);
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, take);
}

export { createRandom, type Random };
