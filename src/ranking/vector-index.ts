// An in-memory index of a tenant's item vectors, for "items near the user's likes" and for the
// vectors a feed scores. Items are kept in flat blocks (flat-block.ts) that onnxruntime scans by
// one matrix-vector product (similarity.onnx), each product scaled by the item's inverse norm
// (cosine); the k best are picked in JavaScript. Measured with `npm run bench:vector-index`
// (2-core VM, k = 250, 8 queries): an exact scan of 100,000 items of dimension 512 takes about
// 17 ms, 500,000 about 79 ms; see docs/benchmarks.md.
//
// Exact below `partitionFloats` numbers (items x dimension). Past it, `maintain()` partitions
// the index once (an inverted file, partitions.ts): about sqrt(n) centroids from a sample, each
// item filed under its nearest, and a query scans the `probeShare` of partitions nearest it plus
// the items written since they were filed (the tail, always scanned). Approximate: an item
// filed under a partition the query does not probe is missed (bench:vector-index measures how
// often). The centroids stay for the index's life; a new life (a restart, an eviction, a gap
// in the event stream) finds them again for the catalogue then.
//
// onnxruntime-node computes synchronously on the calling thread, the API's event loop, so every
// product is a run of at most `sliceFloats` numbers and the loop answers whatever else waits
// (another tenant's request) between two runs. A thread of its own cannot take the scan:
// onnxruntime-node refuses a tensor over a SharedArrayBuffer ("Invalid argument"), so the
// thread would need its own copy of the index.
import { createFlatBlock, REMOVED_ID, type Best, type FlatBlock } from './flat-block.js';
import { nearestCentroids, nearestPartitions, rowsPerSlice, trainCentroids, type Centroids } from './partitions.js';
import { multiply } from './similarity-session.js';

export interface VectorIndex {
  readonly size: number;
  /** Memory its arrays take (capacity doubles as it grows). */
  readonly bytes: number;
  /** Partitions a query chooses from; 0 while the index is exact. */
  readonly partitions: number;
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
  /**
   * The k items most similar (cosine) to the mean of the queries, best first, skipping
   * `exclude`; once partitioned, among the partitions nearest the query and the tail.
   */
  nearest(queries: readonly ArrayLike<number>[], k: number, exclude: ReadonlySet<number>): Promise<number[]>;
  /**
   * Partitions the index once it is past `partitionFloats`, and files the items written since
   * under their partitions once they are many; runs of at most a slice each. One at a time:
   * a call while one runs gets that one.
   */
  maintain(): Promise<void>;
  /** Stops maintain() at its next slice (the index was dropped). */
  close(): void;
}

export interface VectorIndexOptions {
  /**
   * Numbers (slots x dimension) one slice of a scan multiplies before the event loop gets a
   * turn, at least one slot's; omitted or 0: the whole scan at once, as FEED_SCAN_SLICE_FLOATS=0.
   */
  sliceFloats?: number;
  /** Numbers (items x dimension) past which maintain() partitions the index; omitted or 0: always exact. */
  partitionFloats?: number;
  /** Share of the partitions a query scans, nearest first (0 to 1]. */
  probeShare?: number;
}

/** A tail segment's most slots: a drained segment's memory is freed as soon as it is filed. */
const SEGMENT_SLOTS = 65_536;
/** The share of partitions a query scans unless told. */
export const DEFAULT_PROBE_SHARE = 0.1;
/** Rounds of k-means, and sample rows per centroid: enough for an inverted file's coarse cells. */
const KMEANS_ITERATIONS = 8;
const SAMPLE_PER_CENTROID = 32;
/**
 * Multiply-adds of a centroid product that take about as long as one float of a scan's
 * matrix-vector product: the product of many columns reuses each row it reads (bench:vector-index).
 */
const MACS_PER_SCAN_FLOAT = 8;

export function createVectorIndex(dim: number, options: VectorIndexOptions = {}): VectorIndex {
  const sliceFloats = options.sliceFloats || Infinity;
  const sliceSlots = Math.max(1, Math.floor(sliceFloats / dim));
  const partitionFloats = options.partitionFloats || Infinity;
  const probeShare = options.probeShare ?? DEFAULT_PROBE_SHARE;
  const newBlock = (initialCapacity?: number) => createFlatBlock(dim, sliceSlots, initialCapacity);

  /** Items written since the partitions were filed (all of them before), oldest segment first. */
  let tail: FlatBlock[] = [newBlock()];
  /** Tail segments being filed under their partitions; scanned until they are. */
  const filing: FlatBlock[] = [];
  let centroids: Centroids | undefined;
  let partitions: FlatBlock[] = [];
  /** The block holding each item. */
  const where = new Map<number, FlatBlock>();
  let maintaining: Promise<void> | undefined;
  let closed = false;

  const tailSize = () => tail.reduce((n, b) => n + b.size, 0);

  /** A sample of live vectors from the tail (where every item is before the first partitioning). */
  function sampleTail(rows: number, seed: number): { sample: Float32Array; count: number } {
    const snapshots = tail.map((b) => b.snapshot());
    const total = snapshots.reduce((n, s) => n + s.count, 0);
    const sample = new Float32Array(rows * dim);
    let s = seed >>> 0;
    let count = 0;
    // Slots drawn with replacement, removed ones skipped; at most a few tries per row.
    for (let tries = 0; count < rows && tries < rows * 4; tries++) {
      let at = (s = (s * 1664525 + 1013904223) >>> 0) % total;
      let segment = 0;
      while (at >= snapshots[segment].count) at -= snapshots[segment++].count;
      const { ids, vectors } = snapshots[segment];
      if (ids[at] === REMOVED_ID) continue;
      sample.set(vectors.subarray(at * dim, (at + 1) * dim), count * dim);
      count++;
    }
    return { sample, count };
  }

  async function partition(): Promise<void> {
    const k = Math.max(1, Math.min(4096, Math.round(Math.sqrt(where.size))));
    const { sample, count } = sampleTail(Math.min(where.size, k * SAMPLE_PER_CENTROID), where.size);
    const sliceRows = rowsPerSlice(sliceFloats * MACS_PER_SCAN_FLOAT, dim, k);
    const found = await trainCentroids(multiply, sample, count, dim, Math.min(k, count), {
      iterations: KMEANS_ITERATIONS,
      seed: where.size,
      sliceRows,
      stop: () => closed,
    });
    if (!found) return;
    centroids = found;
    partitions = Array.from({ length: found.count }, () => newBlock(64));
  }

  /** Files every item of `block` (a former tail segment, written no more) under its partition. */
  async function file(block: FlatBlock, c: Centroids): Promise<void> {
    const snapshot = block.snapshot(); // removals only mark slots in a block being filed
    const nearest = await nearestCentroids(
      multiply,
      snapshot.vectors,
      snapshot.count,
      c,
      rowsPerSlice(sliceFloats * MACS_PER_SCAN_FLOAT, dim, c.count),
      () => closed,
    );
    if (closed) return;
    // One synchronous step: an item written or removed while the products ran has left `block`.
    for (let at = 0; at < snapshot.count; at++) {
      const id = snapshot.ids[at];
      if (id === REMOVED_ID || where.get(id) !== block) continue;
      const to = partitions[nearest[at]];
      to.upsert(id, snapshot.vectors.subarray(at * dim, (at + 1) * dim), block.versionOf(id)!);
      block.remove(id, false);
      where.set(id, to);
    }
  }

  async function maintainOnce(): Promise<void> {
    if (!centroids) {
      if (where.size * dim < partitionFloats || where.size < 2) return;
      await partition();
    }
    const c = centroids;
    if (!c || closed) return;
    const written = tailSize();
    // Everything, the first time; then once the tail is worth a pass (it is scanned whole meanwhile).
    if (written > 0 && (written === where.size || written >= Math.max(1024, where.size * 0.02))) {
      filing.push(...tail);
      tail = [newBlock()];
    }
    // Oldest first; a segment leaves `filing` only once filed (a failed run leaves it scanned).
    while (filing.length > 0 && !closed) {
      await file(filing[0], c);
      if (!closed) filing.shift();
    }
  }

  return {
    get size() {
      return where.size;
    },
    get bytes() {
      let total = where.size * 40; // the id-to-block map, as the blocks count their own maps
      for (const b of [...tail, ...filing, ...partitions]) total += b.bytes;
      return total + (centroids?.columns.byteLength ?? 0);
    },
    get partitions() {
      return centroids?.count ?? 0;
    },
    upsert(id, vector, version = 0) {
      const from = where.get(id);
      let to = tail[tail.length - 1];
      if (from !== to) {
        // A changed item may belong to another partition now: it joins the tail until filed.
        if (from) from.remove(id, !filing.includes(from));
        if (to.size >= SEGMENT_SLOTS) tail.push((to = newBlock()));
        where.set(id, to);
      }
      to.upsert(id, vector, version);
    },
    vector(id, version) {
      return where.get(id)?.vector(id, version);
    },
    remove(id) {
      const from = where.get(id);
      if (!from) return;
      where.delete(id);
      from.remove(id, !filing.includes(from));
    },
    async nearest(queries, k, exclude) {
      if (queries.length === 0 || k <= 0 || where.size === 0) return [];
      const q = new Float32Array(dim);
      for (const v of queries) for (let d = 0; d < dim; d++) q[d] += v[d];
      // The blocks as they are now; an item moving between two of them while this call waits
      // may be missed by it, or met twice (counted once).
      const blocks = [...tail, ...filing];
      const c = centroids;
      if (c) {
        const probes = Math.max(1, Math.ceil(c.count * probeShare));
        const ps = partitions;
        for (const p of await nearestPartitions(multiply, q, c, probes, (p) => ps[p].size, 2 * k)) blocks.push(ps[p]);
      }
      const best: Best = { ids: [], scores: [] };
      for (const block of blocks) await block.scan(multiply, q, best, k, exclude);
      return best.ids;
    },
    maintain() {
      maintaining ??= maintainOnce().finally(() => (maintaining = undefined));
      return maintaining;
    },
    close() {
      closed = true;
    },
  };
}
