// The partitions of a large vector index (an inverted file, IVF): unit centroids found by
// spherical k-means on a sample of the items, each item filed under the centroid nearest it by
// cosine, and a query scans only the partitions whose centroids are nearest the query. Every
// product is one onnxruntime run of about a millisecond (RunPacer), so the event loop takes a
// turn between runs; the work is seconds for 500,000 items of dimension 512 (bench:index-partitions)
// but spread over the API's idle time.
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
 * How many rows one step (a run of a centroid product and what is done with its rows) takes,
 * learnt from the steps before: onnxruntime's speed at these products varies tenfold with
 * their shape (1,170 rows of 128 numbers against 224 centroids took 3.8 ms, 92 rows of 512
 * against 707 took 1.5 ms, 512 rows of 32 against 2,048 took 13 ms, on the 2-core VM), and
 * filing the rows under their partitions costs as much again, so no fixed count keeps every
 * step near `targetMs`.
 */
export interface RunPacer {
  rows: number;
  readonly targetMs: number;
}

/** A pacer whose first run multiplies about a million numbers. */
export function runPacer(dim: number, centroids: number, targetMs = 1): RunPacer {
  return { rows: Math.max(1, Math.floor(1_048_576 / (dim * centroids))), targetMs };
}

/**
 * The nearest centroid (largest product with the unit centroid, so by cosine) of each row,
 * handed to `take(first, nearest)` run by run, as soon as each run is done: nothing waits
 * between a run and its take.
 */
export async function forEachNearestCentroid(
  multiply: Multiply,
  rows: Float32Array,
  count: number,
  centroids: Centroids,
  pacer: RunPacer,
  take: (first: number, nearest: Int32Array) => void,
  stop: () => boolean = () => false,
): Promise<void> {
  const { dim, count: k } = centroids;
  for (let first = 0; first < count && !stop();) {
    const n = Math.min(pacer.rows, count - first);
    const started = performance.now();
    const products = await multiply(rows.subarray(first * dim, (first + n) * dim), n, centroids.columns, k);
    const nearest = new Int32Array(n);
    for (let i = 0; i < n; i++) nearest[i] = argmax(products, i, k);
    take(first, nearest);
    // The run and its take paced together (filing 2,000 rows took 3-30 ms here); the time
    // includes one turn of the loop. At most double the rows a step, so that one fast step
    // does not make the next long.
    const ms = Math.max(0.01, performance.now() - started);
    pacer.rows = Math.max(1, Math.min(2 * n, Math.round((n * pacer.targetMs) / ms)));
    first += n;
  }
}

function unit(v: Float32Array): void {
  let norm = 0;
  for (let d = 0; d < v.length; d++) norm += v[d] * v[d];
  const scale = 1 / (Math.sqrt(norm) || 1);
  for (let d = 0; d < v.length; d++) v[d] *= scale;
}

/** A turn of the event loop for whatever else waits. */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Rows of `dim` numbers a JavaScript loop goes through between two turns: about a quarter of a
 * million numbers, a millisecond or so (copying and normalising a sample of 10,000 rows of 512 took
 * 100 ms in one go).
 */
export const rowsPerTurn = (dim: number) => Math.max(1, Math.floor(262_144 / dim));

function toColumns(rows: Float32Array, k: number, dim: number): Float32Array {
  const columns = new Float32Array(dim * k);
  for (let c = 0; c < k; c++) for (let d = 0; d < dim; d++) columns[d * k + c] = rows[c * dim + d];
  return columns;
}

/** The first `count` rows of `sample` as unit vectors, in a new array, a turn of the loop now and then. */
async function unitRows(sample: Float32Array, count: number, dim: number): Promise<Float32Array> {
  const rows = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    if (i % rowsPerTurn(dim) === 0) await turn();
    for (let d = 0; d < dim; d++) rows[i * dim + d] = sample[i * dim + d];
    unit(rows.subarray(i * dim, (i + 1) * dim));
  }
  return rows;
}

export interface TrainedCentroids {
  centroids: Centroids;
  /** The sample's rows as unit vectors, and the centroid each is nearest. */
  rows: Float32Array;
  nearest: Int32Array;
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
  o: { iterations: number; seed: number; pacer: RunPacer; stop?: () => boolean },
): Promise<TrainedCentroids | undefined> {
  const random = sequence(o.seed);
  const rows = await unitRows(sample, count, dim);
  // Distinct starting rows: a partial shuffle of the sample's indexes.
  const order = Int32Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (count - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const centres = new Float32Array(k * dim);
  for (let c = 0; c < k; c++) centres.set(rows.subarray(order[c] * dim, (order[c] + 1) * dim), c * dim);
  const nearest = new Int32Array(count);
  for (let round = 0; round <= o.iterations; round++) {
    const centroids = { count: k, dim, columns: toColumns(centres, k, dim) };
    // Each run's rows are summed into their centroids as it ends, so no long step holds the loop.
    const sums = new Float32Array(k * dim);
    const members = new Int32Array(k);
    await forEachNearestCentroid(
      multiply,
      rows,
      count,
      centroids,
      o.pacer,
      (first, chunk) => {
        nearest.set(chunk, first);
        for (let i = 0; i < chunk.length; i++) {
          const c = chunk[i];
          members[c]++;
          for (let d = 0; d < dim; d++) sums[c * dim + d] += rows[(first + i) * dim + d];
        }
      },
      o.stop,
    );
    if (o.stop?.()) return undefined;
    // The last round only files the sample under the centroids it ends with.
    if (round === o.iterations) return { centroids, rows, nearest };
    for (let c = 0; c < k; c++) {
      if (members[c] === 0) {
        const i = Math.floor(random() * count);
        sums.set(rows.subarray(i * dim, (i + 1) * dim), c * dim);
      }
      unit(sums.subarray(c * dim, (c + 1) * dim));
    }
    centres.set(sums);
  }
  return undefined; // not reached: the last round returns
}

/**
 * Centroids already in use and a fresh sample filed under them, in trainCentroids' form, so
 * that sampleRecall can say what they find among the items as they are now. Undefined if
 * `stop()` says so first.
 */
export async function fileSample(
  multiply: Multiply,
  sample: Float32Array,
  count: number,
  centroids: Centroids,
  o: { pacer: RunPacer; stop?: () => boolean },
): Promise<TrainedCentroids | undefined> {
  const rows = await unitRows(sample, count, centroids.dim);
  const nearest = new Int32Array(count);
  await forEachNearestCentroid(multiply, rows, count, centroids, o.pacer, (first, chunk) => nearest.set(chunk, first), o.stop);
  return o.stop?.() ? undefined : { centroids, rows, nearest };
}

/** The `k` rows of the largest products, but `skip`; a sorted insert, as k is small. */
function topRows(products: Float32Array, k: number, skip: number): number[] {
  const rows: number[] = [];
  for (let i = 0; i < products.length; i++) {
    if (i === skip || (rows.length === k && products[i] <= products[rows[k - 1]])) continue;
    let at = rows.length;
    while (at > 0 && products[rows[at - 1]] < products[i]) at--;
    rows.splice(at, 0, i);
    if (rows.length > k) rows.pop();
  }
  return rows;
}

/**
 * What the probes would find, tried on a sample (before any item is filed, or later on a fresh
 * sample filed under the centroids in use, fileSample): for the first `queries` sample rows,
 * the share of the `k` rows nearest each (cosine) that lie in the partitions probed for it. Where the items have no structure that partitions follow (vectors uniform
 * in a cube), this is a fraction of what it is on clustered ones (bench:index-partitions).
 */
export async function sampleRecall(multiply: Multiply, trained: TrainedCentroids, probes: number, k: number, queries: number): Promise<number> {
  const { centroids, rows, nearest } = trained;
  const { dim } = centroids;
  const count = nearest.length;
  let found = 0;
  let total = 0;
  for (let q = 0; q < Math.min(queries, count); q++) {
    const query = rows.slice(q * dim, (q + 1) * dim);
    const products = await multiply(rows, count, query, 1);
    const best = topRows(products, k, q);
    const probed = new Set(await nearestPartitions(multiply, query, centroids, probes, () => 0, 0));
    found += best.filter((i) => probed.has(nearest[i])).length;
    total += best.length;
  }
  return total === 0 ? 1 : found / total;
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
