// An in-memory index of a tenant's item vectors, for "items near the user's likes" and for the
// vectors a feed scores. Items are kept in flat blocks (flat-block.ts) that onnxruntime scans by
// one matrix-vector product (similarity.onnx), each product scaled by the item's inverse norm
// (cosine); the k best are picked in JavaScript. Measured with `npm run bench:vector-index`
// (2-core VM, k = 250, 8 queries): an exact scan of 100,000 items of dimension 512 takes about
// 17 ms, 500,000 about 79 ms; see docs/benchmarks.md.
//
// Exact below `partitionFloats` numbers (items x dimension). Past it, `maintain()` partitions
// the index (an inverted file, partitions.ts): about sqrt(n) centroids by k-means on a
// sample, each item filed under its nearest, and a query scans the `probeShare` of partitions
// nearest it plus the items written since they were filed (the tail, always scanned whole).
// Approximate: an item filed under a partition the query does not probe is missed. So the
// partitions are kept only where, tried on the sample, they find MIN_SAMPLE_RECALL of what an
// exact scan finds; vectors without clusters for them to follow stay exact
// (bench:index-partitions measures both kinds). A catalogue changes under its centroids: with a
// tenth to a half of a clustered catalogue rewritten in new styles, feeds of the new styles
// found 0.83-0.97 of their nearest 250 under the old centroids (bench:index-drift, 100,000 and
// 500,000 x 512, a tenth probed). So once RECHECK_WRITTEN_SHARE of the index has been
// written since the last check, maintain() tries the centroids again on a fresh sample; where
// they miss, it partitions again (every item refiled, and scanned whole until it is) or,
// where new centroids would miss too, the index goes back to exact. Items live in tail segments
// of at most SEGMENT_SLOTS, so filing frees each segment's memory as soon as it is filed, and a
// partition's as soon as it is refiled.
//
// onnxruntime-node computes synchronously on the calling thread, the API's event loop, so a
// scan's product is runs of at most `sliceFloats` numbers, the partitioning's runs of about a
// millisecond (partitions.ts), and the loop answers whatever else waits (another tenant's
// request) between two runs. A thread of its own cannot take the scan:
// onnxruntime-node refuses a tensor over a SharedArrayBuffer ("Invalid argument"), so the
// thread would need its own copy of the index.
import { createFlatBlock, emptyBest, REMOVED_ID, type FlatBlock } from './flat-block.js';
import {
  fileSample,
  forEachNearestCentroid,
  nearestPartitions,
  rowsPerTurn,
  runPacer,
  sampleRecall,
  trainCentroids,
  turn,
  type Centroids,
  type RunPacer,
  type TrainedCentroids,
} from './partitions.js';
import { multiply } from './similarity-session.js';

export interface VectorIndex {
  readonly size: number;
  /** Memory its arrays take (capacity doubles as it grows). */
  readonly bytes: number;
  /** Partitions a query chooses from; 0 while the index is exact. */
  readonly partitions: number;
  /**
   * The probes' recall on the sample when partitioning was last tried: partitions are kept at
   * MIN_SAMPLE_RECALL and above. Undefined until tried.
   */
  readonly sampleRecall: number | undefined;
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
   * Partitions the index once it is past `partitionFloats`, files the items written since under
   * their partitions once they are many, and checks the partitions again (partitioning again
   * where they miss) once many have been written; runs of about a millisecond each. One at a
   * time: a call while one runs gets that one.
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
  /** Partitions are kept only where the probes' recall on the sample reaches this (MIN_SAMPLE_RECALL unless told). */
  minSampleRecall?: number;
  /**
   * The partitions are checked again once this share of the index has been written since the
   * last check (RECHECK_WRITTEN_SHARE unless told; Infinity never, as bench:index-drift compares).
   */
  recheckWrittenShare?: number;
  /** Told once per try: declined at once, kept once every item is filed (seconds from the try's start). */
  onPartitioned?: (outcome: PartitioningOutcome) => void;
}

export interface PartitioningOutcome {
  /**
   * size: the index reached `partitionFloats` (or doubled since a decline); recall: its
   * partitions, tried on a fresh sample, found under the minimum.
   */
  trigger: 'size' | 'recall';
  items: number;
  /** 0 where declined: the index is exact (again, where it was partitioned). */
  partitions: number;
  sampleRecall: number;
  /** With trigger recall: what the partitions found before. */
  previousRecall?: number;
  seconds: number;
}

/** A tail segment's most slots: a drained segment's memory is freed as soon as it is filed. */
const SEGMENT_SLOTS = 65_536;
/** The share of partitions a query scans unless told (the platform passes FEED_INDEX_PROBE_PERCENT). */
const DEFAULT_PROBE_SHARE = 0.1;
/** Rounds of k-means, and sample rows per centroid: enough for an inverted file's coarse cells. */
const KMEANS_ITERATIONS = 8;
const SAMPLE_PER_CENTROID = 32;
/**
 * Partitions are kept only where, on the sample, the probes find this share of a query's
 * nearest items (CHECK_QUERIES sample items as queries, a feed's CHECK_K scaled to the sample).
 * Clustered CLIP-like vectors give 0.99 and more at a tenth probed; vectors uniform in a cube,
 * where nothing near is near, about 0.3 (bench:index-partitions).
 */
export const MIN_SAMPLE_RECALL = 0.9;
const CHECK_QUERIES = 8;
const CHECK_K = 250;
/**
 * A partitioned index is checked again once items this share of its size have been written
 * (added or changed) since its last check: the check files a fresh sample under the centroids
 * (a tenth or so of a partitioning's work) and asks it for the nearest of RECHECK_QUERIES of
 * the items written since, drawn evenly among them. Those are where a catalogue that moves on
 * shows first (bench:index-drift, 100,000 x 512): checks asking sampled items passed with a
 * tenth and a quarter of the catalogue rewritten in new styles, while feeds of those styles
 * found 0.87 and 0.83 of their nearest, and first missed at a half; asking written items, the
 * check misses at a tenth (0.86).
 */
const RECHECK_WRITTEN_SHARE = 0.1;
const RECHECK_QUERIES = 16;

export function createVectorIndex(dim: number, options: VectorIndexOptions = {}): VectorIndex {
  const sliceFloats = options.sliceFloats || Infinity;
  const sliceSlots = Math.max(1, Math.floor(sliceFloats / dim));
  const partitionFloats = options.partitionFloats || Infinity;
  const probeShare = options.probeShare ?? DEFAULT_PROBE_SHARE;
  const minSampleRecall = options.minSampleRecall ?? MIN_SAMPLE_RECALL;
  const recheckWrittenShare = options.recheckWrittenShare ?? RECHECK_WRITTEN_SHARE;
  const newSegment = () => createFlatBlock(dim, sliceSlots, 1024, 2, SEGMENT_SLOTS);

  /**
   * Items written since the partitions were filed (all of them before, and the former partitions
   * of an index gone back to exact), oldest block first; writes go to the last.
   */
  let tail: FlatBlock[] = [newSegment()];
  /** Tail segments being filed under their partitions; scanned until they are. */
  const filing: FlatBlock[] = [];
  let centroids: Centroids | undefined;
  let partitions: FlatBlock[] = [];
  /** The block holding each item. */
  const where = new Map<number, FlatBlock>();
  /** The last check on a sample (a partitioning's, or the partitions' again): items then, and the probes' recall. */
  let checked: { items: number; recall: number } | undefined;
  /** Upserts since that check, and an even draw of RECHECK_QUERIES of their ids (a reservoir). */
  let writtenSinceCheck = 0;
  const recentlyWritten: number[] = [];
  let draws = 1;
  let maintaining: Promise<void> | undefined;
  let closed = false;

  const tailSize = () => tail.reduce((n, b) => n + b.size, 0);

  interface Drawn {
    sample: Float32Array;
    count: number;
    /** Centroids for the index's size. */
    k: number;
    /** The sample's first rows, the queries of its check. */
    queries: number;
  }

  /**
   * A sample of live vectors drawn from every block, a partitioning's size, after `first` (the
   * check's queries); without them the check asks the first CHECK_QUERIES rows drawn.
   */
  async function drawSample(first: Float32Array[] = []): Promise<Drawn> {
    const k = Math.max(1, Math.min(4096, Math.round(Math.sqrt(where.size))));
    const blocks = [...tail, ...filing, ...partitions].filter((b) => b.size > 0);
    const drawn = await sampleBlocks(blocks, Math.min(where.size, k * SAMPLE_PER_CENTROID), where.size, first);
    return { ...drawn, k, queries: first.length || CHECK_QUERIES };
  }

  async function sampleBlocks(blocks: FlatBlock[], drawRows: number, seed: number, first: Float32Array[]): Promise<{ sample: Float32Array; count: number }> {
    const snapshots = blocks.map((b) => b.snapshot());
    const total = snapshots.reduce((n, s) => n + s.count, 0);
    const rows = first.length + drawRows;
    const sample = new Float32Array(rows * dim);
    first.forEach((v, i) => sample.set(v, i * dim));
    let s = seed >>> 0;
    let count = first.length;
    // Slots drawn with replacement, removed ones skipped; at most a few tries per row.
    // The snapshots' ids are copies and their vectors stay in place while this waits (a
    // compaction moves the live slots to new arrays); a row rewritten meanwhile may be sampled
    // half old, half new, which a sample for k-means can bear.
    for (let tries = 0; count < rows && tries < rows * 4; tries++) {
      if (tries % rowsPerTurn(dim) === 0) await turn();
      let at = (s = (s * 1664525 + 1013904223) >>> 0) % total;
      let segment = 0;
      while (at >= snapshots[segment].count) at -= snapshots[segment++].count;
      const { ids, vectors } = snapshots[segment];
      if (ids[at] === REMOVED_ID) continue;
      for (let d = 0; d < dim; d++) sample[count * dim + d] = vectors[at * dim + d];
      count++;
    }
    return { sample, count };
  }

  /** The probes' recall on the sample filed under `trained`; the index's last check from now on. */
  async function check(trained: TrainedCentroids, drawn: Drawn): Promise<number> {
    // A feed's 250 of the whole index are this many of the sample's rows.
    const sampleK = Math.max(10, Math.round((CHECK_K * drawn.count) / where.size));
    const recall = await sampleRecall(multiply, trained, probesOf(trained.centroids), sampleK, drawn.queries);
    checked = { items: where.size, recall };
    writtenSinceCheck = recentlyWritten.length = 0;
    return recall;
  }

  /**
   * What the partitions in use find for items written since the last check, among a fresh
   * sample; undefined if closed first, or if those items are all gone.
   */
  async function recheck(c: Centroids): Promise<{ recall: number; drawn: Drawn } | undefined> {
    const queries = recentlyWritten.flatMap((id) => where.get(id)?.vector(id) ?? []);
    if (queries.length === 0) {
      // Removed since: nothing written is left to ask about, so the next check waits for more.
      writtenSinceCheck = recentlyWritten.length = 0;
      return undefined;
    }
    const drawn = await drawSample(queries);
    const filed = await fileSample(multiply, drawn.sample, drawn.count, c, { pacer: runPacer(dim, c.count), stop: () => closed });
    return filed && { recall: await check(filed, drawn), drawn };
  }

  /**
   * Finds centroids on a sample (`drawn`, or one drawn now), and keeps them if the probes would
   * find most of what an exact scan finds there: every item then waits in `filing` (scanned
   * whole) to be filed under them. Else the index is exact (again, where it was partitioned)
   * until it has doubled.
   */
  async function partition(given?: Drawn): Promise<void> {
    const drawn = given ?? (await drawSample());
    const { sample, count, k } = drawn;
    const trained = await trainCentroids(multiply, sample, count, dim, Math.min(k, count), {
      iterations: KMEANS_ITERATIONS,
      seed: where.size,
      pacer: runPacer(dim, k),
      stop: () => closed,
    });
    if (!trained) return;
    const recall = await check(trained, drawn);
    if (closed) return;
    if (recall < minSampleRecall) {
      // Scanned whole, as every block is while the index has no centroids; the next try once doubled.
      if (centroids) tail = [...filing.splice(0), ...partitions, ...tail];
      centroids = undefined;
      partitions = [];
      return;
    }
    // The blocks filed so far (old partitions, segments) are refiled, each freed once it is.
    filing.push(...partitions, ...tail);
    tail = [newSegment()];
    centroids = trained.centroids;
    // Each partition sized for its share of the sample, allocated as its first item is filed,
    // and grown an eighth at a time (a partition is a megabyte or two to copy): grown by
    // doubling from 64 slots, the partitions of 500,000 items of dimension 512 took 1,480 MB
    // against the exact index's 1,072.
    const members = new Int32Array(centroids.count);
    for (const c of trained.nearest) members[c]++;
    const scale = where.size / count;
    partitions = Array.from(members, (m) => createFlatBlock(dim, sliceSlots, Math.ceil(m * scale) + 16, 1.125));
  }

  const probesOf = (c: Centroids) => Math.max(1, Math.ceil(c.count * probeShare));

  /** Files every item of `block` (a former tail segment, written no more) under its partition. */
  async function file(block: FlatBlock, c: Centroids, pacer: RunPacer): Promise<void> {
    const snapshot = block.snapshot(); // removals only mark slots in a block being filed
    // Each run's rows are moved as it ends: an item written or removed while a run was waiting
    // has left `block` already and stays where it is now.
    const move = (first: number, nearest: Int32Array) => {
      for (let i = 0; i < nearest.length; i++) {
        const at = first + i;
        const id = snapshot.ids[at];
        if (id === REMOVED_ID || where.get(id) !== block) continue;
        const to = partitions[nearest[i]];
        to.upsert(id, snapshot.vectors.subarray(at * dim, (at + 1) * dim), block.versionOf(id)!);
        block.remove(id, false);
        where.set(id, to);
      }
    };
    await forEachNearestCentroid(multiply, snapshot.vectors, snapshot.count, c, pacer, move, () => closed);
  }

  async function maintainOnce(): Promise<void> {
    let tried: { at: number; trigger: PartitioningOutcome['trigger']; previousRecall?: number } | undefined; // this run's try, if any
    const started = performance.now();
    if (!centroids) {
      if (where.size * dim < partitionFloats || where.size < 2) return;
      if (checked && where.size < 2 * checked.items) return; // declined at this size already
      tried = { at: started, trigger: 'size' };
      await partition();
    } else if (writtenSinceCheck >= where.size * recheckWrittenShare && filing.length === 0) {
      const again = await recheck(centroids);
      if (again && again.recall < minSampleRecall && !closed) {
        tried = { at: started, trigger: 'recall', previousRecall: again.recall };
        await partition(again.drawn);
      }
    }
    /** Tells onPartitioned of this run's try, if it made one. */
    const told = () => {
      if (tried === undefined || !checked) return;
      const partitions = centroids?.count ?? 0;
      const { trigger, previousRecall, at } = tried;
      options.onPartitioned?.({
        trigger,
        items: where.size,
        partitions,
        sampleRecall: checked.recall,
        previousRecall,
        seconds: (performance.now() - at) / 1000,
      });
    };
    const c = centroids;
    if (!c || closed) {
      if (!closed) told();
      return;
    }
    const written = tailSize();
    // Once the tail is worth a pass (it is scanned whole meanwhile).
    if (written >= Math.max(1024, where.size * 0.02)) {
      filing.push(...tail);
      tail = [newSegment()];
    }
    const pacer = runPacer(dim, c.count);
    // Oldest first; a segment leaves `filing` only once filed (a failed run leaves it scanned).
    while (filing.length > 0 && !closed) {
      await file(filing[0], c, pacer);
      if (!closed) filing.shift();
    }
    if (!closed) told();
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
    get sampleRecall() {
      return checked?.recall;
    },
    upsert(id, vector, version = 0) {
      // Reservoir sampling: each write since the check is among the queries with equal chance.
      if (++writtenSinceCheck <= RECHECK_QUERIES) recentlyWritten.push(id);
      else {
        draws = (draws * 1664525 + 1013904223) >>> 0;
        const at = Math.floor((draws / 2 ** 32) * writtenSinceCheck); // the high bits: an LCG's low ones cycle
        if (at < RECHECK_QUERIES) recentlyWritten[at] = id;
      }
      const from = where.get(id);
      let to = tail[tail.length - 1];
      if (from !== to) {
        // A changed item may belong to another partition now: it joins the tail until filed.
        if (from) from.remove(id, !filing.includes(from));
        if (to.size >= SEGMENT_SLOTS) tail.push((to = newSegment()));
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
        const ps = partitions;
        for (const p of await nearestPartitions(multiply, q, c, probesOf(c), (p) => ps[p].size, 2 * k)) blocks.push(ps[p]);
      }
      const best = emptyBest();
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
