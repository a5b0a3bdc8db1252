import { describe, expect, it } from 'vitest';
import { createVectorIndex, MIN_SAMPLE_RECALL, type PartitioningOutcome, type VectorIndex } from '../../src/ranking/vector-index.js';
import { centroidScores } from '../../src/ranking/centroid.js';

describe('vector index', () => {
  it('returns the k items most similar to the mean of the queries, best first, skipping exclusions', async () => {
    const index = createVectorIndex(2);
    // Ids 0..2999 around the circle; grows past its first capacity of 1024.
    for (let i = 0; i < 3000; i++) index.upsert(i, [Math.cos((i / 3000) * 2 * Math.PI), Math.sin((i / 3000) * 2 * Math.PI)]);
    expect(index.size).toBe(3000);
    // Item i sits at angle i * 2π / 3000 (0.00209 rad apart); the query at 0.001 rad.
    expect(await index.nearest([[1, 0.001]], 3, new Set())).toEqual([0, 1, 2999]);
    expect(await index.nearest([[1, 0.001]], 3, new Set([0]))).toEqual([1, 2999, 2]);
    // The mean of two queries: halfway between them.
    expect(
      await index.nearest(
        [
          [1, 0],
          [0, 1],
        ],
        1,
        new Set(),
      ),
    ).toEqual([375]);
  });

  it('agrees with a plain cosine sort, at several dimensions', async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    for (const dim of [5, 32, 37]) {
      const index = createVectorIndex(dim);
      const vectors = Array.from({ length: 500 }, () => Array.from({ length: dim }, random));
      vectors.forEach((v, id) => index.upsert(id, v));
      const queries = [Array.from({ length: dim }, random), Array.from({ length: dim }, random)];
      const exclude = new Set([3, 10, 200]);
      const q = queries[0].map((x, d) => x + queries[1][d]);
      const cosine = (v: number[]) => v.reduce((s, x, d) => s + x * q[d], 0) / Math.hypot(...v);
      const expected = vectors
        .map((v, id) => ({ id, s: cosine(v) }))
        .filter((e) => !exclude.has(e.id))
        .sort((a, b) => b.s - a.s)
        .slice(0, 20)
        .map((e) => e.id);
      expect(await index.nearest(queries, 20, exclude)).toEqual(expected);
    }
  });

  it('gives back each vector as upserted, not normalised, through replacements, removals and compactions', () => {
    const index = createVectorIndex(3);
    for (let id = 1; id <= 2000; id++) index.upsert(id, [id, -2 * id, 0.5]);
    index.upsert(7, [3, 4, 0]);
    for (let id = 100; id <= 1000; id++) index.remove(id); // compacts: the slots move
    expect(index.vector(7)).toEqual(Float32Array.of(3, 4, 0));
    expect(index.vector(1500)).toEqual(Float32Array.of(1500, -3000, 0.5));
    expect(index.vector(500)).toBeUndefined();
    expect(index.vector(4000)).toBeUndefined();
    // A copy: changing it changes nothing in the index.
    index.vector(7)!.fill(0);
    expect(index.vector(7)).toEqual(Float32Array.of(3, 4, 0));
  });

  it('gives back the memory of items removed, and still finds the rest', async () => {
    const index = createVectorIndex(64);
    const vector = (id: number) => Array.from({ length: 64 }, (_, d) => Math.sin(id * (d + 1)));
    for (let id = 1; id <= 20_000; id++) index.upsert(id, vector(id));
    const full = index.bytes;
    for (let id = 1; id <= 18_000; id++) index.remove(id);
    // Compacted to what is left and a growth step, where it kept every slot of its capacity.
    expect(index.bytes).toBeLessThan(full * 0.25);
    expect(index.size).toBe(2000);
    expect(await index.nearest([vector(19_000)], 1, new Set())).toEqual([19_000]);
    expect(index.vector(20_000)).toEqual(Float32Array.from(vector(20_000)));
  });

  it('replaces a vector on a second upsert of the same id', async () => {
    const index = createVectorIndex(2);
    index.upsert(7, [1, 0]);
    index.upsert(8, [0, 1]);
    index.upsert(7, [0, -1]);
    expect(index.size).toBe(2);
    expect(await index.nearest([[0, -1]], 1, new Set())).toEqual([7]);
  });
});

describe('vector index scanned in slices', () => {
  let seed = 11;
  const random = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const dim = 8;
  const vectors = Array.from({ length: 2000 }, () => Array.from({ length: dim }, random));
  // Ties: every tenth item repeats item 0, so equal scores fall in different slices.
  for (let i = 10; i < vectors.length; i += 10) vectors[i] = vectors[0];
  const fill = (sliceFloats?: number) => {
    const index = createVectorIndex(dim, sliceFloats === undefined ? {} : { sliceFloats });
    vectors.forEach((v, i) => index.upsert(i + 1, v));
    for (let id = 5; id < 2000; id += 97) index.remove(id);
    return index;
  };

  it('gives the k best by cosine in slices of any size, best first, removed and excluded items skipped', async () => {
    // onnxruntime's product may round a row differently by where it falls in a block, so equal
    // vectors may differ in the last bit: the check allows that much, not more.
    const TOLERANCE = 1e-6;
    const removed = new Set(Array.from({ length: 21 }, (_, i) => 5 + i * 97));
    const exclude = new Set([2, 3, 500]);
    for (const query of [[vectors[0]], [vectors[7], vectors[8]]]) {
      const q = query[0].map((_, d) => query.reduce((sum, v) => sum + v[d], 0));
      const cosine = (id: number) => {
        const v = vectors[id - 1];
        return v.reduce((sum, x, d) => sum + x * q[d], 0) / Math.hypot(...v) / Math.hypot(...q);
      };
      const eligible = vectors.map((_, i) => i + 1).filter((id) => !removed.has(id) && !exclude.has(id));
      const kth = eligible.map(cosine).sort((a, b) => b - a)[299];
      for (const sliceFloats of [Infinity, dim, 7 * dim, 333 * dim, 1]) {
        const found = await fill(sliceFloats).nearest(query, 300, exclude);
        expect(found).toHaveLength(300);
        expect(new Set(found).size).toBe(300);
        expect(found.filter((id) => removed.has(id) || exclude.has(id))).toEqual([]);
        expect(found.every((id) => cosine(id) >= kth - TOLERANCE)).toBe(true);
        expect(found.every((id, i) => i === 0 || cosine(id) <= cosine(found[i - 1]) + TOLERANCE)).toBe(true);
      }
    }
    // Item 1 and its copies come first for its own vector.
    const first = await fill(7 * dim).nearest([vectors[0]], 5, new Set());
    expect(first.every((id) => id % 10 === 1)).toBe(true);
  });

  it('lets the event loop run between slices, where one scan held it throughout', async () => {
    const turns = async (index: ReturnType<typeof createVectorIndex>) => {
      await index.nearest([vectors[0]], 10, new Set()); // the shared session is loaded
      let count = 0;
      let running = true;
      const tick = () => {
        count++;
        if (running) setImmediate(tick);
      };
      setImmediate(tick);
      await index.nearest([vectors[0]], 10, new Set());
      running = false;
      return count;
    };
    // 2,000 slots, 100 a slice: 20 runs, each started from its own turn of the loop.
    expect(await turns(fill(100 * dim))).toBeGreaterThanOrEqual(19);
    expect(await turns(fill(Infinity))).toBeLessThanOrEqual(2);
  });
});

describe('history-centroid fallback', () => {
  it('is (cos to the liked mean - cos to the disliked mean + 2) / 4', () => {
    const scores = centroidScores(
      [
        { vector: [1, 0], like: true },
        { vector: [0, 1], like: false },
      ],
      [
        [1, 0],
        [0, 1],
        [1, 1],
        [-1, 0],
        [1, -1],
      ],
    );
    expect(scores[0]).toBeCloseTo((1 - 0 + 2) / 4);
    expect(scores[1]).toBeCloseTo((0 - 1 + 2) / 4);
    expect(scores[2]).toBeCloseTo(0.5);
    expect(scores[3]).toBeCloseTo((-1 - 0 + 2) / 4);
    expect(scores[4]).toBeCloseTo((Math.SQRT1_2 + Math.SQRT1_2 + 2) / 4);
    expect(centroidScores([], [[1, 0]])).toEqual([0.5]);
  });
});

describe('vector index: removing items', () => {
  it('never returns a removed item, also from a search already waiting, and compacts without losing the others', async () => {
    const index = createVectorIndex(2);
    for (let id = 1; id <= 100; id++) index.upsert(id, [Math.cos(id / 20), Math.sin(id / 20)]);
    const query = [[Math.cos(50 / 20), Math.sin(50 / 20)]];
    const waiting = index.nearest(query, 5, new Set());
    index.remove(50);
    expect(await waiting).not.toContain(50);
    expect(await index.nearest(query, 5, new Set())).toEqual([49, 51, 48, 52, 47]);
    // Past a quarter of the slots removed, the live ones move to new arrays: all still found.
    for (let id = 1; id <= 40; id++) index.remove(id);
    expect(index.size).toBe(59);
    const all = await index.nearest(query, 100, new Set());
    expect(all).toHaveLength(59);
    expect(all.every((id) => id > 40 && id !== 50)).toBe(true);
    // Slots freed by the compaction are reused before the arrays grow.
    for (let id = 101; id <= 140; id++) index.upsert(id, [1, 0]);
    expect((await index.nearest([[1, 0]], 200, new Set())).length).toBe(99);
  });
});

describe('vector index: partitioned past partitionFloats', () => {
  /** Items in `styles` clusters of dimension 16 (tight unless `spread` says otherwise), ids from 1; the styles' centres too. */
  function clustered(n: number, styles: number, seed = 3, spread = 0.15) {
    let s = seed;
    const random = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    const centres = Array.from({ length: styles }, () => Array.from({ length: 16 }, random));
    const vectors = Array.from({ length: n }, (_, i) => centres[i % styles].map((x) => x + spread * random()));
    return { centres, vectors };
  }

  const sortedBy = (vectors: number[][], q: number[]) => {
    const cosine = (v: number[]) => v.reduce((sum, x, d) => sum + x * q[d], 0) / Math.hypot(...v) / Math.hypot(...q);
    return vectors.map((v, i) => ({ id: i + 1, s: cosine(v) })).sort((a, b) => b.s - a.s);
  };

  it('stays exact below partitionFloats, and with every partition probed finds what the exact scan finds', async () => {
    const { vectors } = clustered(4000, 40);
    const small = createVectorIndex(16, { partitionFloats: 4001 * 16 });
    const all = createVectorIndex(16, { partitionFloats: 1, probeShare: 1 });
    const exact = createVectorIndex(16);
    vectors.forEach((v, i) => [small, all, exact].forEach((index) => index.upsert(i + 1, v)));
    await Promise.all([small.maintain(), all.maintain()]);
    expect(small.partitions).toBe(0);
    expect(small.sampleRecall).toBeUndefined(); // not tried
    expect(all.partitions).toBe(63); // about sqrt(4000)
    const queries = [vectors[5], vectors[17]];
    const exclude = new Set([6, 18]);
    expect(new Set(await all.nearest(queries, 300, exclude))).toEqual(new Set(await exact.nearest(queries, 300, exclude)));
    expect(all.size).toBe(4000);
    expect(all.vector(77)).toEqual(Float32Array.from(vectors[76]));
  });

  it('finds the nearest items of clustered vectors while scanning a tenth of the partitions', async () => {
    const { centres, vectors } = clustered(20_000, 100);
    const index = createVectorIndex(16, { partitionFloats: 1, probeShare: 0.1 });
    vectors.forEach((v, i) => index.upsert(i + 1, v));
    await index.maintain();
    expect(index.partitions).toBe(141);
    let found = 0;
    for (const centre of centres.slice(0, 20)) {
      const truth = new Set(
        sortedBy(vectors, centre)
          .slice(0, 100)
          .map((e) => e.id),
      );
      found += (await index.nearest([centre], 100, new Set())).filter((id) => truth.has(id)).length;
    }
    // Misfiled items or a wrong probe would find a few in a hundred.
    expect(found / 2000).toBeGreaterThan(0.95);
  });

  /**
   * Writes at every turn of the loop until `running` settles: a new item a turn (ids from
   * `addFrom`, `vectors` in turn) and, `most` of each at most, a removal (ids from `removeFrom`)
   * and a change (ids from `changeFrom`, to `changedTo(id)` at `version`). What it wrote.
   */
  async function writesDuring(
    index: VectorIndex,
    running: Promise<void>,
    o: { addFrom: number; vectors: number[][]; removeFrom: number; changeFrom: number; changedTo: (id: number) => number[]; version: number; most: number },
  ) {
    let done = false;
    void running.then(() => (done = true));
    const added: number[] = [];
    const removed: number[] = [];
    const changed = new Map<number, number[]>();
    for (let turn = 0; !done; turn++) {
      await new Promise((r) => setImmediate(r));
      index.upsert(o.addFrom + turn, o.vectors[turn % o.vectors.length], 1);
      added.push(o.addFrom + turn);
      if (removed.length < o.most) {
        const id = o.removeFrom + removed.length;
        index.remove(id);
        removed.push(id);
      }
      if (changed.size < o.most) {
        const id = o.changeFrom + changed.size;
        changed.set(id, o.changedTo(id));
        index.upsert(id, o.changedTo(id), o.version);
      }
    }
    return { added, removed, changed };
  }

  it('loses nothing written, changed or removed while it partitions, and scans later writes whole', async () => {
    const { vectors } = clustered(6000, 30);
    const index = createVectorIndex(16, { partitionFloats: 1, probeShare: 1 });
    vectors.forEach((v, i) => index.upsert(i + 1, v, 1));
    const running = index.maintain();
    expect(index.maintain()).toBe(running); // one at a time
    // A write at every turn of the loop, through sampling, k-means and filing.
    const { added, removed, changed } = await writesDuring(index, running, {
      addFrom: 10_000,
      vectors,
      removeFrom: 1,
      changeFrom: 3000,
      changedTo: (id) => vectors[(id * 7) % 6000],
      version: 2,
      most: 2000,
    });
    expect(index.partitions).toBeGreaterThan(0);
    expect(removed.length).toBeGreaterThan(20); // the writes did meet the partitioning
    const live = 6000 - removed.length + added.length;
    expect(index.size).toBe(live);
    const all = await index.nearest([vectors[0]], 100_000, new Set());
    expect(new Set(all).size).toBe(live);
    expect(all.filter((id) => id <= removed.length)).toEqual([]);
    for (const [id, v] of changed) expect(index.vector(id, 2)).toEqual(Float32Array.from(v));
    // Written after the partitioning: in the tail, scanned whole whatever the probes.
    const narrow = createVectorIndex(16, { partitionFloats: 1, probeShare: 0.01 });
    vectors.forEach((v, i) => narrow.upsert(i + 1, v));
    await narrow.maintain();
    narrow.upsert(50_000, [5, ...Array(15).fill(0)]);
    expect((await narrow.nearest([[1, ...Array(15).fill(0)]], 1, new Set()))[0]).toBe(50_000);
  });

  it('stays exact where the probes would miss most of the nearest items (vectors without clusters)', async () => {
    let seed = 5;
    const random = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    const vectors = Array.from({ length: 4000 }, () => Array.from({ length: 64 }, random));
    const index = createVectorIndex(64, { partitionFloats: 1 });
    const exact = createVectorIndex(64);
    vectors.forEach((v, i) => [index, exact].forEach((ix) => ix.upsert(i + 1, v)));
    await index.maintain();
    expect(index.partitions).toBe(0);
    expect(index.sampleRecall).toBeLessThan(0.5); // 0.33 here; clustered vectors 0.9 and more
    expect(await index.nearest([vectors[3]], 100, new Set())).toEqual(await exact.nearest([vectors[3]], 100, new Set()));
  });

  it('returns each item once to a query that meets it in two blocks while it is being filed', async () => {
    const { vectors } = clustered(6000, 30);
    const index = createVectorIndex(16, { partitionFloats: 1, probeShare: 1 });
    vectors.forEach((v, i) => index.upsert(i + 1, v));
    const running = index.maintain();
    let done = false;
    void running.then(() => (done = true));
    let queries = 0;
    while (!done) {
      if (index.partitions > 0) {
        const all = await index.nearest([vectors[0]], 10_000, new Set());
        expect(all.length).toBe(new Set(all).size);
        queries++;
      } else await new Promise((r) => setImmediate(r));
    }
    expect(queries).toBeGreaterThan(0);
  });

  /** Share of the exact 100 nearest that `index` finds, for 20 of the first `among` items as queries. */
  async function recallAt100(index: VectorIndex, vectors: number[][], among = vectors.length) {
    let found = 0;
    for (let q = 0; q < 20; q++) {
      const query = vectors[Math.floor((q * among) / 20)];
      const truth = new Set(
        sortedBy(vectors, query)
          .slice(0, 100)
          .map((e) => e.id),
      );
      found += (await index.nearest([query], 100, new Set())).filter((id) => truth.has(id)).length;
    }
    return found / 2000;
  }

  /** Rewrites items 1.. with `next` (as many as it holds), in batches of 1,000 with maintain() after each as the refreshes call it. */
  async function rewrite(index: VectorIndex, next: number[][], version: number) {
    for (let first = 0; first < next.length; first += 1000) {
      next.slice(first, first + 1000).forEach((v, j) => index.upsert(first + j + 1, v, version));
      await index.maintain();
    }
  }

  it('partitions again when the catalogue changes under its centroids, and not while they still find the nearest', async () => {
    const before = clustered(20_000, 100);
    const after = clustered(20_000, 5, 9, 1); // a catalogue that moved on: a few broad styles
    const outcomes: PartitioningOutcome[] = [];
    const index = createVectorIndex(16, { partitionFloats: 1, probeShare: 0.1, onPartitioned: (o) => outcomes.push(o) });
    before.vectors.forEach((v, i) => index.upsert(i + 1, v, 1));
    await index.maintain();
    // The same vectors written again: checked (ten times), still fine, not partitioned again.
    await rewrite(index, before.vectors, 2);
    expect(outcomes.map((o) => o.trigger)).toEqual(['size']);
    // A tenth in the new styles. Filed under the old centroids their nearest were found at
    // 0.79, and a check asking sampled items instead of written ones passed (0.98 there).
    const tenth = [...after.vectors.slice(0, 2000), ...before.vectors.slice(2000)];
    await rewrite(index, tenth.slice(0, 2000), 3);
    expect(await recallAt100(index, tenth, 2000)).toBeGreaterThan(0.95);
    expect(outcomes.map((o) => [o.trigger, o.partitions > 0])).toEqual([
      ['size', true],
      ['recall', true],
    ]);
    expect(outcomes[1].previousRecall).toBeLessThan(MIN_SAMPLE_RECALL);
    expect(outcomes[1].sampleRecall).toBeGreaterThanOrEqual(MIN_SAMPLE_RECALL);
    // All of it (the old centroids found 0.86 of the nearest).
    await rewrite(index, after.vectors, 4);
    expect(await recallAt100(index, after.vectors)).toBeGreaterThan(0.95);
    expect(index.size).toBe(20_000);
    expect(index.vector(5, 4)).toEqual(Float32Array.from(after.vectors[4]));
    expect(index.vector(3005, 4)).toEqual(Float32Array.from(after.vectors[3004]));
  });

  it('loses nothing written, changed or removed while it partitions again', async () => {
    const before = clustered(20_000, 100);
    const after = clustered(2000, 5, 9, 1);
    const outcomes: PartitioningOutcome[] = [];
    const index = createVectorIndex(16, { partitionFloats: 1, probeShare: 0.1, onPartitioned: (o) => outcomes.push(o) });
    before.vectors.forEach((v, i) => index.upsert(i + 1, v, 1));
    await index.maintain();
    // A tenth in new styles, in one go: the next maintain() checks, misses and partitions again.
    after.vectors.forEach((v, i) => index.upsert(i + 1, v, 2));
    const { added, removed, changed } = await writesDuring(index, index.maintain(), {
      addFrom: 30_000,
      vectors: before.vectors,
      removeFrom: 5000, // filed under the old partitions, being refiled
      changeFrom: 10_000,
      changedTo: (id) => after.vectors[id % 2000],
      version: 3,
      most: 3000,
    });
    expect(outcomes.map((o) => [o.trigger, o.partitions > 0])).toEqual([
      ['size', true],
      ['recall', true],
    ]);
    expect(removed.length).toBeGreaterThan(20); // the writes did meet the partitioning
    const live = 20_000 - removed.length + added.length;
    expect(index.size).toBe(live);
    const all = await index.nearest([before.vectors[0]], 100_000, new Set());
    expect(all.length).toBe(live);
    expect(new Set(all).size).toBe(live);
    const gone = new Set(removed);
    expect(all.filter((id) => gone.has(id))).toEqual([]);
    for (const [id, v] of changed) expect(index.vector(id, 3)).toEqual(Float32Array.from(v));
    expect(index.vector(7, 2)).toEqual(Float32Array.from(after.vectors[6]));
  });

  it('goes back to exact where the catalogue changed into vectors no partitions follow', async () => {
    const { vectors } = clustered(4000, 40);
    let seed = 5;
    const random = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
    const uniform = Array.from({ length: 4000 }, () => Array.from({ length: 16 }, random));
    const outcomes: PartitioningOutcome[] = [];
    const index = createVectorIndex(16, { partitionFloats: 1, probeShare: 0.1, onPartitioned: (o) => outcomes.push(o) });
    const exact = createVectorIndex(16);
    vectors.forEach((v, i) => index.upsert(i + 1, v));
    await index.maintain();
    expect(index.partitions).toBeGreaterThan(0);
    await rewrite(index, uniform, 1);
    uniform.forEach((v, i) => exact.upsert(i + 1, v));
    expect(index.partitions).toBe(0);
    expect(outcomes.at(-1)).toMatchObject({ trigger: 'recall', partitions: 0 });
    for (const q of [uniform[3], uniform[1234]]) expect(await index.nearest([q], 100, new Set())).toEqual(await exact.nearest([q], 100, new Set()));
    // Exact until it has doubled: more writes of the same size try nothing.
    const tries = outcomes.length;
    await rewrite(index, uniform, 2);
    expect(outcomes).toHaveLength(tries);
  });

  it('stops partitioning once closed, and still answers exactly', async () => {
    const { vectors } = clustered(3000, 30);
    const index = createVectorIndex(16, { partitionFloats: 1 });
    const exact = createVectorIndex(16);
    vectors.forEach((v, i) => [index, exact].forEach((ix) => ix.upsert(i + 1, v)));
    const running = index.maintain();
    index.close();
    await running;
    expect(index.partitions).toBe(0);
    expect(await index.nearest([vectors[9]], 50, new Set())).toEqual(await exact.nearest([vectors[9]], 50, new Set()));
  });
});
