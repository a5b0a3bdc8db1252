// k-means with k-means++ seeding (Arthur and Vassilvitskii, 2007): the first centre uniformly,
// each next one with probability proportional to its squared distance from the nearest centre
// chosen so far; then Lloyd's iterations until no label changes. Seeded, so the same input
// gives the same groups on every run and machine.
import { createRandom, squaredDistance, type Points } from './points.js';

export interface KMeansOptions {
  seed?: number;
  /** Independent seedings; the one with the lowest inertia wins. */
  restarts?: number;
  maxIterations?: number;
}

export interface KMeansResult {
  k: number;
  /** Group of each point, 0..k-1. */
  labels: Int32Array;
  /** k rows of dim numbers. */
  centroids: Float64Array;
  /** Sum of squared distances of the points to their centroids. */
  inertia: number;
  iterations: number;
}

export function kmeans(points: Points, k: number, options: KMeansOptions = {}): KMeansResult {
  if (!Number.isInteger(k) || k < 1) throw new Error(`k: expected a positive integer, got ${k}`);
  if (k > points.n) throw new Error(`k: expected at most the number of points (${points.n}), got ${k}`);
  const random = createRandom(options.seed ?? 0);
  let best: KMeansResult | undefined;
  for (let r = 0; r < (options.restarts ?? 3); r++) {
    const result = lloyd(points, seedCentroids(points, k, random.next), options.maxIterations ?? 100);
    if (!best || result.inertia < best.inertia) best = result;
  }
  return best!;
}

/** k-means++ seeding. `next` is a uniform generator in [0, 1). */
export function seedCentroids(points: Points, k: number, next: () => number): Float64Array {
  const { n, dim, data } = points;
  const centroids = new Float64Array(k * dim);
  const nearest = new Float64Array(n).fill(Infinity);
  let chosen = Math.floor(next() * n);
  for (let c = 0; c < k; c++) {
    for (let d = 0; d < dim; d++) centroids[c * dim + d] = data[chosen * dim + d];
    if (c === k - 1) break;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d2 = squaredDistance(data, i, centroids, c, dim);
      if (d2 < nearest[i]) nearest[i] = d2;
      total += nearest[i];
    }
    if (total === 0) {
      // Every point sits on a centre already: any point will do.
      chosen = Math.floor(next() * n);
      continue;
    }
    let target = next() * total;
    chosen = n - 1;
    for (let i = 0; i < n; i++) {
      target -= nearest[i];
      if (target < 0) {
        chosen = i;
        break;
      }
    }
  }
  return centroids;
}

/** Lloyd's iterations from the given centroids. */
export function lloyd(points: Points, initial: Float64Array, maxIterations: number): KMeansResult {
  const { n, dim, data } = points;
  const k = initial.length / dim;
  const centroids = Float64Array.from(initial);
  const labels = new Int32Array(n).fill(-1);
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  let iterations = 0;
  let inertia = 0;
  for (; iterations < maxIterations; iterations++) {
    let changed = 0;
    inertia = 0;
    for (let i = 0; i < n; i++) {
      let bestC = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d2 = squaredDistance(data, i, centroids, c, dim);
        if (d2 < bestD) {
          bestD = d2;
          bestC = c;
        }
      }
      inertia += bestD;
      if (labels[i] !== bestC) {
        labels[i] = bestC;
        changed++;
      }
    }
    if (changed === 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = labels[i];
      counts[c]++;
      for (let d = 0; d < dim; d++) sums[c * dim + d] += data[i * dim + d];
    }
    for (let c = 0; c < k; c++) {
      // An empty group keeps its centre (k-means++ seeding makes this rare).
      if (counts[c] === 0) continue;
      for (let d = 0; d < dim; d++) centroids[c * dim + d] = sums[c * dim + d] / counts[c];
    }
  }
  return { k, labels, centroids, inertia, iterations };
}
