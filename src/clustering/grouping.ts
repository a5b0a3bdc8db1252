// One grouping of users, everything about it that needs only their representations: k (given
// or chosen by silhouette), the groups numbered by size, the quality figures, each group's
// centroid and the users nearest it, and a 2-D picture. Pure, so a snapshot can be checked
// by hand; what needs the database (items, stability) is added by the taste-group service.
import { chooseK } from './choose-k.js';
import { kmeans } from './kmeans.js';
import { createRandom, sampleIndices, squaredDistance, subset, type Points } from './points.js';
import { project2d } from './projection.js';
import { calinskiHarabasz, centroidsOf, daviesBouldin, silhouette } from './quality.js';

export interface GroupingOptions {
  /** A fixed k (the admin's); otherwise the best silhouette in [minK, maxK]. */
  k?: number;
  minK: number;
  maxK: number;
  /** Silhouette (quadratic) is measured on at most this many points. */
  sampleSize: number;
  representatives: number;
  seed: number;
}

export interface Grouping {
  k: number;
  kSource: 'SILHOUETTE' | 'ADMIN';
  tried: { k: number; silhouette: number }[];
  /** Group of each point: 1 = the largest group. */
  ordinals: Int32Array;
  sizes: number[];
  /** k rows, in ordinal order. */
  centroids: Float32Array[];
  /** Per group, the indices of the points nearest its centroid, nearest first. */
  representatives: number[][];
  silhouette: number;
  daviesBouldin: number;
  calinskiHarabasz: number;
  /** n rows of (x, y). */
  coordinates: Float32Array;
  explained: [number, number];
}

/**
 * k-means finds a local optimum from each seeding; more seedings find better ones. Cheap for a
 * few thousand points, so they get more; 100,000 points get fewer to stay within a minute.
 */
const restartsFor = (n: number) => (n <= 5000 ? 10 : n <= 20_000 ? 5 : 3);

export function groupPoints(points: Points, o: GroupingOptions): Grouping {
  const fixed = o.k !== undefined;
  const restarts = restartsFor(points.n);
  const choice = fixed
    ? { k: o.k!, tried: [], result: kmeans(points, o.k!, { seed: o.seed, restarts }) }
    : chooseK(points, { minK: o.minK, maxK: o.maxK, sampleSize: o.sampleSize, seed: o.seed, restarts });
  const { k } = choice;
  const labels = choice.result.labels;

  // Number the groups by size, largest first (ties by the k-means label, for a stable order).
  const counts = new Array<number>(k).fill(0);
  for (const l of labels) counts[l]++;
  const order = [...Array(k).keys()].sort((a, b) => counts[b] - counts[a] || a - b);
  const ordinalOf = new Int32Array(k);
  order.forEach((label, i) => (ordinalOf[label] = i + 1));
  const ordinals = labels.map((l) => ordinalOf[l]);
  const zeroBased = ordinals.map((o) => o - 1);

  const { centroids, sizes } = centroidsOf(points, zeroBased, k);
  const dim = points.dim;
  const nearest: { index: number; d2: number }[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < points.n; i++) nearest[zeroBased[i]].push({ index: i, d2: squaredDistance(points.data, i, centroids, zeroBased[i], dim) });

  const sample = points.n <= o.sampleSize ? undefined : sampleIndices(points.n, o.sampleSize, createRandom(o.seed + 1));
  const projection = project2d(points);
  return {
    k,
    kSource: fixed ? 'ADMIN' : 'SILHOUETTE',
    tried: choice.tried,
    ordinals,
    sizes: [...sizes],
    centroids: Array.from({ length: k }, (_, c) => Float32Array.from(centroids.subarray(c * dim, (c + 1) * dim))),
    representatives: nearest.map((members) =>
      members
        .sort((a, b) => a.d2 - b.d2 || a.index - b.index)
        .slice(0, o.representatives)
        .map((m) => m.index),
    ),
    silhouette: sample
      ? silhouette(
          subset(points, sample),
          Int32Array.from(sample, (i) => zeroBased[i]),
          k,
        )
      : silhouette(points, zeroBased, k),
    daviesBouldin: daviesBouldin(points, zeroBased, k),
    calinskiHarabasz: calinskiHarabasz(points, zeroBased, k),
    coordinates: projection.coordinates,
    explained: projection.explained,
  };
}
