// The partitions of a large vector index (an inverted file, IVF): unit centroids found by
// spherical k-means on a sample of the items, each item filed under the centroid nearest it by
// cosine, and a query scans only the partitions whose centroids are nearest the query. Every
// product is one onnxruntime run of at most `sliceRows` rows, so the event loop takes a turn
// between runs; the work is seconds for 500,000 items but spread over the API's idle time.
// clustering/kmeans.ts is the taste groups' k-means, in JavaScript over a few dimensions; this
// one multiplies hundreds of centroids by thousands of CLIP-sized vectors and needs onnxruntime.
import { type Multiply } from './similarity-session.js';

export interface Centroids {
  count: number;
  dim: number;
  /** dim x count, row-major: the matrix a row of vectors is multiplied by. */
  columns: Float32Array;
}

/** A fixed pseudo-random sequence in [0, 1), so a partitioning can be repeated. */
function sequence(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** Index of the largest of `k` products starting at row * k. */
function argmax(products: Float32Array, row: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (products[row * k + c] > products[row * k + best]) best = c;
  return best;
}

/**
 * Rows per run: a run multiplies rows x dim x centroids numbers, and `macsPerSlice` of them take
 * about as long as one slice of a scan (bench:vector-index measures both).
 */
export function rowsPerSlice(macsPerSlice: number, dim: number, centroids: number): number {
  return Math.max(1, Math.floor(macsPerSlice / (dim * centroids)));
}

/** The nearest centroid (largest product with the unit centroid, so by cosine) of each row. */
export async function nearestCentroids(
  multiply: Multiply,
  rows: Float32Array,
  count: number,
  centroids: Centroids,
  sliceRows: number,
  stop: () => boolean = () => false,
): Promise<Int32Array> {
  const { dim, count: k } = centroids;
  const nearest = new Int32Array(count);
  for (let first = 0; first < count && !stop(); first += sliceRows) {
    const n = Math.min(sliceRows, count - first);
    const products = await multiply(rows.subarray(first * dim, (first + n) * dim), n, centroids.columns, k);
    for (let i = 0; i < n; i++) nearest[first + i] = argmax(products, i, k);
  }
  return nearest;
}

function unit(v: Float32Array): void {
  let norm = 0;
  for (const x of v) norm += x * x;
  const scale = 1 / (Math.sqrt(norm) || 1);
  for (let d = 0; d < v.length; d++) v[d] *= scale;
}

function toColumns(rows: Float32Array, k: number, dim: number): Float32Array {
  const columns = new Float32Array(dim * k);
  for (let c = 0; c < k; c++) for (let d = 0; d < dim; d++) columns[d * k + c] = rows[c * dim + d];
  return columns;
}

/**
 * `k` unit centroids from `count` sample rows (dim numbers each, any norm): spherical k-means,
 * started from k distinct sample rows drawn with `seed`, `iterations` rounds. A centroid left
 * without rows is started again from a random sample row. Undefined if `stop()` says so first.
 */
export async function trainCentroids(
  multiply: Multiply,
  sample: Float32Array,
  count: number,
  dim: number,
  k: number,
  o: { iterations: number; seed: number; sliceRows: number; stop?: () => boolean },
): Promise<Centroids | undefined> {
  const random = sequence(o.seed);
  const rows = sample.slice(0, count * dim);
  for (let i = 0; i < count; i++) unit(rows.subarray(i * dim, (i + 1) * dim));
  // Distinct starting rows: a partial shuffle of the sample's indexes.
  const order = Int32Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (count - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const centres = new Float32Array(k * dim);
  for (let c = 0; c < k; c++) centres.set(rows.subarray(order[c] * dim, (order[c] + 1) * dim), c * dim);
  for (let round = 0; round < o.iterations; round++) {
    const nearest = await nearestCentroids(multiply, rows, count, { count: k, dim, columns: toColumns(centres, k, dim) }, o.sliceRows, o.stop);
    if (o.stop?.()) return undefined;
    centres.fill(0);
    const members = new Int32Array(k);
    for (let i = 0; i < count; i++) {
      const c = nearest[i];
      members[c]++;
      for (let d = 0; d < dim; d++) centres[c * dim + d] += rows[i * dim + d];
    }
    for (let c = 0; c < k; c++) {
      if (members[c] === 0) {
        const i = Math.floor(random() * count);
        centres.set(rows.subarray(i * dim, (i + 1) * dim), c * dim);
      }
      unit(centres.subarray(c * dim, (c + 1) * dim));
    }
  }
  return { count: k, dim, columns: toColumns(centres, k, dim) };
}

/** The `probes` centroids nearest the query (largest products first), or more until they hold `minItems`. */
export async function nearestPartitions(
  multiply: Multiply,
  query: Float32Array,
  centroids: Centroids,
  probes: number,
  sizes: (partition: number) => number,
  minItems: number,
): Promise<number[]> {
  const products = await multiply(query, 1, centroids.columns, centroids.count);
  const order = Array.from({ length: centroids.count }, (_, c) => c).sort((a, b) => products[b] - products[a]);
  const chosen: number[] = [];
  let items = 0;
  for (const c of order) {
    if (chosen.length >= probes && items >= minItems) break;
    chosen.push(c);
    items += sizes(c);
  }
  return chosen;
}
