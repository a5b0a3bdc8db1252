// k chosen by silhouette: cluster a sample for every k in the range and keep the k whose
// grouping of the sample has the highest mean silhouette (exact silhouette is quadratic in
// the number of points; on a few thousand it is a fraction of a second, on 100,000 it would
// be minutes). Then the chosen k groups every point.
import { kmeans, type KMeansResult } from './kmeans.js';
import { createRandom, sampleIndices, subset, type Points } from './points.js';
import { silhouette } from './quality.js';

export interface ChooseKOptions {
  minK: number;
  maxK: number;
  /** Points the silhouette is measured on (and k-means run on, per k). */
  sampleSize: number;
  seed: number;
  restarts?: number;
}

export interface KChoice {
  k: number;
  /** The sample's mean silhouette for every k tried, in order of k. */
  tried: { k: number; silhouette: number }[];
  /** The chosen k's grouping of every point. */
  result: KMeansResult;
}

export function chooseK(points: Points, options: ChooseKOptions): KChoice {
  const maxK = Math.min(options.maxK, points.n - 1);
  if (maxK < options.minK) throw new Error(`chooseK: ${points.n} points cannot be split into ${options.minK} to ${options.maxK} groups`);
  const sample = points.n <= options.sampleSize ? points : subset(points, sampleIndices(points.n, options.sampleSize, createRandom(options.seed)));
  const tried: KChoice['tried'] = [];
  let best: { k: number; silhouette: number; result: KMeansResult } | undefined;
  for (let k = options.minK; k <= maxK; k++) {
    const grouped = kmeans(sample, k, { seed: options.seed, restarts: options.restarts });
    const s = silhouette(sample, grouped.labels, k);
    tried.push({ k, silhouette: s });
    // Ties go to the smaller k: fewer groups are easier to read.
    if (!best || s > best.silhouette) best = { k, silhouette: s, result: grouped };
  }
  // The sample's grouping is every point's when the sample is all of them; else group them all.
  const result = sample === points ? best!.result : kmeans(points, best!.k, { seed: options.seed, restarts: options.restarts });
  return { k: best!.k, tried, result };
}
