// An in-memory index of a tenant's item vectors, for "items near the user's likes" and for the
// vectors a feed scores. Exact: every item is scored, by onnxruntime's matrix-vector product over
// one flat Float32Array of the vectors as the app sent them (similarity.onnx, one MatMul), each
// product scaled by its item's inverse norm (cosine), then the k best are picked in JavaScript.
// Measured with `npm run bench:vector-index` (2-core VM, k = 250, 8 queries): 100,000 items of
// dimension 512 take about 13 ms per call against 116 ms for the plain JavaScript loop this
// replaced (68 ms unrolled); see docs/benchmarks.md.
// onnxruntime-node computes synchronously on the calling thread, the API's event loop, so the
// API scans in slices of at most `sliceFloats` numbers (FEED_SCAN_SLICE_FLOATS), each its own
// run: between two slices the loop answers whatever else waits (another tenant's request),
// which would otherwise wait for the whole scan (13 ms at 100,000 x 512, 73 ms at 500,000).
// A thread of its own cannot take the scan: onnxruntime-node refuses a tensor over a
// SharedArrayBuffer ("Invalid argument"), so the thread would need its own copy of the index.
// Past a few hundred thousand items an approximate index (IVF, HNSW) or pgvector would be the
// next step.
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';

export interface VectorIndex {
  readonly size: number;
  /** Memory its arrays take (capacity doubles as it grows). */
  readonly bytes: number;
  /** Adds or replaces an item's vector; `version` says which write of the item it is (vector()). */
  upsert(id: number, vector: ArrayLike<number>, version?: number): void;
  /**
   * The item's vector as upserted (a copy); undefined for an item not in the index, or, with
   * `version`, where the index holds another version of it.
   */
  vector(id: number, version?: number): Float32Array | undefined;
  /**
   * Drops an item (deleted): no later nearest() returns it. One already running may still
   * (feeds read the items it names from the database, where the item is gone).
   */
  remove(id: number): void;
  /** The k items most similar (cosine) to the mean of the queries, best first, skipping `exclude`. */
  nearest(queries: readonly ArrayLike<number>[], k: number, exclude: ReadonlySet<number>): Promise<number[]>;
}

const SIMILARITY_MODEL = fileURLToPath(new URL('./similarity.onnx', import.meta.url));
let similarity: Promise<ort.InferenceSession> | undefined;

/** One session for every index in the process; one thread, since onnxruntime's pool spins while idle. */
function similaritySession(): Promise<ort.InferenceSession> {
  similarity ??= ort.InferenceSession.create(SIMILARITY_MODEL, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  return similarity;
}

/** Marks a slot whose item was removed; ids are positive (identity columns). */
const REMOVED = -1;

/** The k best so far, best first. */
interface Best {
  ids: number[];
  scores: number[];
}

/**
 * Merges the cosines of slots `first`.. into `best`, keeping the k highest (ties: lower slot
 * first), skipping excluded and removed ids. onnxruntime may round a row's product differently
 * by where the row falls in its blocks, so equal vectors in different slices may differ in the
 * last bit: slices give the k best up to that rounding, not always one scan's order of ties.
 */
function mergeTopK(
  best: Best,
  products: Float32Array,
  inverseNorms: Float32Array,
  ids: Float64Array,
  first: number,
  k: number,
  exclude: ReadonlySet<number>,
): void {
  // A bounded min-heap would be O(n log k); a sorted insert into k slots is as fast for k <= 500,
  // since after the first k items almost every score falls below the k-th and is skipped.
  const { ids: bestIds, scores: bestScores } = best;
  for (let i = 0; i < products.length; i++) {
    const s = products[i] * inverseNorms[first + i];
    if (bestScores.length === k && s <= bestScores[k - 1]) continue;
    const id = ids[first + i];
    if (id === REMOVED || exclude.has(id)) continue;
    let at = bestScores.length;
    while (at > 0 && bestScores[at - 1] < s) at--;
    bestScores.splice(at, 0, s);
    bestIds.splice(at, 0, id);
    if (bestScores.length > k) {
      bestScores.pop();
      bestIds.pop();
    }
  }
}

export interface VectorIndexOptions {
  /**
   * Numbers (slots x dimension) one slice of a scan multiplies before the event loop gets a
   * turn, at least one slot's; omitted or 0: the whole scan at once, as FEED_SCAN_SLICE_FLOATS=0.
   */
  sliceFloats?: number;
}

export function createVectorIndex(dim: number, options: VectorIndexOptions = {}): VectorIndex {
  const sliceSlots = Math.max(1, Math.floor((options.sliceFloats || Infinity) / dim));
  let capacity = 1024;
  let vectors = new Float32Array(capacity * dim);
  let ids = new Float64Array(capacity);
  /** 1 / |vector| of each slot (1 for a zero vector): a product times it is the cosine. */
  let inverseNorms = new Float32Array(capacity);
  let versions = new Float64Array(capacity);
  /** Slots in use, removed ones included until the next compaction. */
  let used = 0;
  const slot = new Map<number, number>();

  /**
   * New arrays of `size` slots holding the live slots in order. Always new arrays: a nearest()
   * that is waiting holds the old ones, whose first slots must stay as they were.
   */
  function reallocate(size: number) {
    const v = new Float32Array(size * dim);
    const i = new Float64Array(size);
    const n = new Float32Array(size);
    const w = new Float64Array(size);
    let next = 0;
    for (let at = 0; at < used; at++) {
      if (ids[at] === REMOVED) continue;
      v.set(vectors.subarray(at * dim, (at + 1) * dim), next * dim);
      i[next] = ids[at];
      n[next] = inverseNorms[at];
      w[next] = versions[at];
      slot.set(ids[at], next);
      next++;
    }
    vectors = v;
    ids = i;
    inverseNorms = n;
    versions = w;
    capacity = size;
    used = next;
  }

  return {
    get size() {
      return slot.size;
    },
    get bytes() {
      // The id-to-slot map's entries are a guess (about 40 bytes each in V8); the arrays are exact.
      return vectors.byteLength + ids.byteLength + inverseNorms.byteLength + versions.byteLength + slot.size * 40;
    },
    upsert(id, vector, version = 0) {
      let at = slot.get(id);
      if (at === undefined) {
        if (used === capacity) reallocate(slot.size === used ? capacity * 2 : capacity); // compacts removed slots first
        at = used++;
        slot.set(id, at);
        ids[at] = id;
      }
      let norm = 0;
      for (let d = 0; d < dim; d++) {
        vectors[at * dim + d] = vector[d];
        norm += vector[d] * vector[d];
      }
      inverseNorms[at] = 1 / (Math.sqrt(norm) || 1);
      versions[at] = version;
    },
    vector(id, version) {
      const at = slot.get(id);
      if (at === undefined || (version !== undefined && versions[at] !== version)) return undefined;
      return vectors.slice(at * dim, (at + 1) * dim);
    },
    remove(id) {
      const at = slot.get(id);
      if (at === undefined) return;
      slot.delete(id);
      // In place, so that a nearest() already waiting on these arrays skips it too (unless a
      // compaction moved them meanwhile).
      ids[at] = REMOVED;
      // Removed slots still cost a product each: compact once they are a quarter of the index.
      if (used - slot.size > used / 4) reallocate(capacity);
    },
    async nearest(queries, k, exclude) {
      if (queries.length === 0 || k <= 0 || slot.size === 0) return [];
      // Slots are appended, and removal marks a slot or moves the live ones to new arrays, so
      // the first n slots of these arrays hold the same items while this call waits, slices
      // and all. Taken together, before any wait: a compaction meanwhile leaves fewer slots in
      // use in its new arrays than n.
      const n = used;
      const snapshotVectors = vectors;
      const snapshotIds = ids;
      const snapshotInverseNorms = inverseNorms;
      const q = new Float32Array(dim);
      for (const v of queries) for (let d = 0; d < dim; d++) q[d] += v[d];
      const session = await similaritySession();
      const query = new ort.Tensor('float32', q, [dim, 1]);
      const best: Best = { ids: [], scores: [] };
      // Each run is started through setImmediate (onnxruntime-node's run()), so the event loop
      // takes its turn before every slice.
      for (let first = 0; first < n; first += sliceSlots) {
        const count = Math.min(sliceSlots, n - first);
        const { scores } = await session.run({
          vectors: new ort.Tensor('float32', snapshotVectors.subarray(first * dim, (first + count) * dim), [count, dim]),
          query,
        });
        mergeTopK(best, scores.data as Float32Array, snapshotInverseNorms, snapshotIds, first, k, exclude);
      }
      return best.ids;
    },
  };
}
