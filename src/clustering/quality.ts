// How good a grouping is, by the figures the paper reports and the ones admins compare
// snapshots with. Each follows the usual definition (as in scikit-learn), with Euclidean
// distances: silhouette (higher is better, -1..1), Davies-Bouldin (lower is better, >= 0),
// Calinski-Harabasz (higher is better), and the adjusted Rand index between two labelings
// (1 = the same partition, about 0 = chance agreement).
import { squaredDistance, type Points } from './points.js';

/** Mean silhouette over the points. A point alone in its group scores 0. Quadratic in n: sample first for large n. */
export function silhouette(points: Points, labels: ArrayLike<number>, k: number): number {
  const { n, dim, data } = points;
  if (n === 0) return 0;
  const sums = new Float64Array(k);
  const sizes = new Int32Array(k);
  for (let i = 0; i < n; i++) sizes[labels[i]]++;
  let total = 0;
  for (let i = 0; i < n; i++) {
    sums.fill(0);
    for (let j = 0; j < n; j++) if (j !== i) sums[labels[j]] += Math.sqrt(squaredDistance(data, i, data, j, dim));
    const own = labels[i];
    if (sizes[own] <= 1) continue;
    const a = sums[own] / (sizes[own] - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== own && sizes[c] > 0) b = Math.min(b, sums[c] / sizes[c]);
    if (b === Infinity) continue; // one group only: silhouette is undefined; count 0
    const m = Math.max(a, b);
    total += m === 0 ? 0 : (b - a) / m;
  }
  return total / n;
}

/** Centroids (k rows) and sizes of the groups a labeling makes. */
export function centroidsOf(points: Points, labels: ArrayLike<number>, k: number): { centroids: Float64Array; sizes: Int32Array } {
  const { n, dim, data } = points;
  const centroids = new Float64Array(k * dim);
  const sizes = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    sizes[c]++;
    for (let d = 0; d < dim; d++) centroids[c * dim + d] += data[i * dim + d];
  }
  for (let c = 0; c < k; c++) if (sizes[c] > 0) for (let d = 0; d < dim; d++) centroids[c * dim + d] /= sizes[c];
  return { centroids, sizes };
}

/** Mean over groups of the worst (spread_i + spread_j) / distance(centroid_i, centroid_j). Empty groups are left out. */
export function daviesBouldin(points: Points, labels: ArrayLike<number>, k: number): number {
  const { n, dim, data } = points;
  const { centroids, sizes } = centroidsOf(points, labels, k);
  const spread = new Float64Array(k);
  for (let i = 0; i < n; i++) spread[labels[i]] += Math.sqrt(squaredDistance(data, i, centroids, labels[i], dim));
  const present = [...Array(k).keys()].filter((c) => sizes[c] > 0);
  if (present.length < 2) return 0;
  for (const c of present) spread[c] /= sizes[c];
  let total = 0;
  for (const i of present) {
    let worst = 0;
    for (const j of present) {
      if (j === i) continue;
      const between = Math.sqrt(squaredDistance(centroids, i, centroids, j, dim));
      // Two groups with the same centroid cannot be told apart at all.
      worst = Math.max(worst, between === 0 ? Infinity : (spread[i] + spread[j]) / between);
    }
    total += worst;
  }
  return total / present.length;
}

/** (between-group dispersion / (k - 1)) / (within-group dispersion / (n - k)). */
export function calinskiHarabasz(points: Points, labels: ArrayLike<number>, k: number): number {
  const { n, dim, data } = points;
  const { centroids, sizes } = centroidsOf(points, labels, k);
  const present = [...Array(k).keys()].filter((c) => sizes[c] > 0).length;
  if (present < 2 || n <= present) return 0;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += data[i * dim + d] / n;
  let between = 0;
  for (let c = 0; c < k; c++) if (sizes[c] > 0) between += sizes[c] * squaredDistance(centroids, c, mean, 0, dim);
  let within = 0;
  for (let i = 0; i < n; i++) within += squaredDistance(data, i, centroids, labels[i], dim);
  if (within === 0) return Infinity;
  return between / (present - 1) / (within / (n - present));
}

const pairs = (x: number) => (x * (x - 1)) / 2;

/** Adjusted Rand index (Hubert and Arabie, 1985) between two labelings of the same points. */
export function adjustedRandIndex(a: ArrayLike<number | string>, b: ArrayLike<number | string>): number {
  if (a.length !== b.length) throw new Error(`adjustedRandIndex: labelings of ${a.length} and ${b.length} points`);
  const n = a.length;
  const table = new Map<string, number>();
  const rows = new Map<number | string, number>();
  const cols = new Map<number | string, number>();
  for (let i = 0; i < n; i++) {
    const key = `${a[i]}\u0000${b[i]}`;
    table.set(key, (table.get(key) ?? 0) + 1);
    rows.set(a[i], (rows.get(a[i]) ?? 0) + 1);
    cols.set(b[i], (cols.get(b[i]) ?? 0) + 1);
  }
  let index = 0;
  for (const count of table.values()) index += pairs(count);
  let sumRows = 0;
  for (const count of rows.values()) sumRows += pairs(count);
  let sumCols = 0;
  for (const count of cols.values()) sumCols += pairs(count);
  const expected = (sumRows * sumCols) / pairs(n);
  const maximum = (sumRows + sumCols) / 2;
  // Both labelings put every point alone, or all together: they agree perfectly.
  if (maximum === expected) return 1;
  return (index - expected) / (maximum - expected);
}
