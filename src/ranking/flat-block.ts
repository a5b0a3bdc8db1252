// One flat block of item vectors, scanned exactly: the vectors as the app sent them in one
// Float32Array, each slot's inverse norm (a product times it is the cosine) and the item's
// version. The vector index (vector-index.ts) keeps its items in such blocks: segments of the
// items as written and, once it is partitioned, one block per partition.
import { type Multiply } from './similarity-session.js';

/** Marks a slot whose item was removed; ids are positive (identity columns). */
export const REMOVED_ID = -1;
const REMOVED = REMOVED_ID;

/** The k best so far, best first; `held` is the set of `ids`. */
export interface Best {
  ids: number[];
  scores: number[];
  held: Set<number>;
}

export const emptyBest = (): Best => ({ ids: [], scores: [], held: new Set() });

/**
 * Merges the cosines of slots `first`.. into `best`, keeping the k highest (ties: lower slot
 * first), skipping excluded and removed ids and ids already in it (an item moved between two
 * blocks while a scan was waiting). onnxruntime may round a row's product differently by where
 * the row falls in its blocks, so equal vectors in different slices may differ in the last
 * bit: slices give the k best up to that rounding, not always one scan's order of ties.
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
  const { ids: bestIds, scores: bestScores, held } = best;
  for (let i = 0; i < products.length; i++) {
    const s = products[i] * inverseNorms[first + i];
    if (bestScores.length === k && s <= bestScores[k - 1]) continue;
    const id = ids[first + i];
    if (id === REMOVED || exclude.has(id) || held.has(id)) continue;
    let at = bestScores.length;
    while (at > 0 && bestScores[at - 1] < s) at--;
    bestScores.splice(at, 0, s);
    bestIds.splice(at, 0, id);
    held.add(id);
    if (bestScores.length > k) {
      bestScores.pop();
      held.delete(bestIds.pop()!);
    }
  }
}

/** The block's slots as they were at one moment, for work that waits before it acts on them. */
export interface BlockSnapshot {
  /** Its vectors then: the first `count` slots stay as they were while the work waits. */
  vectors: Float32Array;
  count: number;
  /** Each slot's id then (REMOVED_ID where removed). */
  ids: Float64Array;
}

export interface FlatBlock {
  readonly size: number;
  /** Memory its arrays take, capacity included. */
  readonly bytes: number;
  upsert(id: number, vector: ArrayLike<number>, version: number): void;
  vector(id: number, version?: number): Float32Array | undefined;
  versionOf(id: number): number | undefined;
  /** Drops an item; `compact: false` leaves its slot marked (a block being emptied). */
  remove(id: number, compact?: boolean): boolean;
  snapshot(): BlockSnapshot;
  /** Merges the cosine of every live item to `query` (dim numbers) into `best`. */
  scan(multiply: Multiply, query: Float32Array, best: Best, k: number, exclude: ReadonlySet<number>): Promise<void>;
}

/**
 * A block of `dim` numbers a vector, scanned `sliceSlots` at a time, whose first item allocates
 * `initialCapacity` slots, and which grows by `growth` times when full, to `maxSlots` at most
 * unless more items come (a tail segment's size).
 */
export function createFlatBlock(dim: number, sliceSlots: number, initialCapacity = 1024, growth = 2, maxSlots = Infinity): FlatBlock {
  // Nothing is allocated before the first item: a partitioned index makes hundreds of blocks at
  // once, sized for what each will hold, and 1.2 GB of them zeroed in one go held the loop 3.3 s.
  let capacity = 0;
  let vectors = new Float32Array(0);
  let ids = new Float64Array(0);
  let inverseNorms = new Float32Array(0);
  let versions = new Float64Array(0);
  /** Slots in use, removed ones included until the next compaction. */
  let used = 0;
  const slot = new Map<number, number>();
  const grown = () => Math.max(capacity + 1, Math.min(maxSlots, Math.ceil(capacity * growth)));

  /**
   * New arrays of `size` slots holding the live slots in order. Always new arrays: a scan or a
   * snapshot that is waiting holds the old ones, whose first slots must stay as they were.
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
    upsert(id, vector, version) {
      let at = slot.get(id);
      if (at === undefined) {
        // Compacts removed slots first where there are any.
        if (used === capacity) reallocate(capacity === 0 ? initialCapacity : slot.size === used ? grown() : capacity);
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
    versionOf(id) {
      const at = slot.get(id);
      return at === undefined ? undefined : versions[at];
    },
    remove(id, compact = true) {
      const at = slot.get(id);
      if (at === undefined) return false;
      slot.delete(id);
      // In place, so that a scan already waiting on these arrays skips it too (unless a
      // compaction moved them meanwhile).
      ids[at] = REMOVED;
      // Removed slots still cost a product each: compact once they are a quarter of the block,
      // to the live items and one growth step (a partition the catalogue moved away from kept
      // its whole capacity: 500,000 x 512 rewritten in new styles held 1,905 MB where the
      // partitions had taken 1,136, bench:index-drift).
      if (compact && used - slot.size > used / 4) reallocate(Math.min(capacity, Math.ceil(slot.size * growth)));
      return true;
    },
    snapshot() {
      return { vectors, count: used, ids: ids.slice(0, used) };
    },
    async scan(multiply, query, best, k, exclude) {
      // Slots are appended, and removal marks a slot or moves the live ones to new arrays, so
      // the first n slots of these arrays hold the same items while this scan waits, slices
      // and all. Taken together, before any wait: a compaction meanwhile leaves fewer slots in
      // use in its new arrays than n.
      const n = used;
      const snapshotVectors = vectors;
      const snapshotIds = ids;
      const snapshotInverseNorms = inverseNorms;
      for (let first = 0; first < n; first += sliceSlots) {
        const count = Math.min(sliceSlots, n - first);
        const products = await multiply(snapshotVectors.subarray(first * dim, (first + count) * dim), count, query, 1);
        mergeTopK(best, products, snapshotInverseNorms, snapshotIds, first, k, exclude);
      }
    },
  };
}
