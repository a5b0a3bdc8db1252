// k chosen by silhouette: cluster a sample for every k in the range and keep the k whose
// grouping of the sample has the highest mean silhouette (exact silhouette is quadratic in
// the number of points; on a few thousand it is a fraction of a second, on 100,000 it would
// be minutes), unless a smaller k comes within SILHOUETTE_TOLERANCE of it: fewer groups are
// easier to read, and preference-token activations, near one-hot with a long history, make
// every token in use look like a group of its own (on the six-group world: k 6 scored 0.741,
// k 7 0.749, with ARI 0.92 against 0.88). Then the chosen k groups every point.
import { kmeans, type KMeansResult } from './kmeans.js';
import { createRandom, sampleIndices, subset, type Points } from './points.js';
import { silhouette } from './quality.js';
import type { Layout } from './tokens.js';

export interface ChooseKOptions {
  minK: number;
  maxK: number;
  /** Points the silhouette is measured on (and k-means run on, per k). */
  sampleSize: number;
  seed: number;
  restarts?: number;
}

/** How much higher a larger k's silhouette must be to be chosen over a smaller one. */
export const SILHOUETTE_TOLERANCE = 0.02;

/**
 * The largest k silhouette tries: the configured one (TASTE_GROUPS_MAX_K), or as many as the
 * representation's preference tokens where there are more. Since session 56 a tenant's model has
 * at least 10 latent classes, and more (12-24) where its users need more (trainer/class_count.py);
 * on a world of 16 groups, 16 classes tried up to k 16 grouped at ARI 0.479 and 0.458 where k
 * stopped at 12 gave 0.419 and 0.369 (docs/taste-groups.md, "How many classes").
 */
export function largestK(configured: number, layout: Pick<Layout, 'tokensDim'>): number {
  return Math.max(configured, layout.tokensDim);
}

/** The smallest k whose silhouette is within `tolerance` of the best one tried. */
export function pickK(tried: readonly { k: number; silhouette: number }[], tolerance = SILHOUETTE_TOLERANCE): number {
  const best = Math.max(...tried.map((t) => t.silhouette));
  return tried.filter((t) => t.silhouette >= best - tolerance).reduce((a, b) => (b.k < a.k ? b : a)).k;
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
  const groupings = new Map<number, KMeansResult>();
  for (let k = options.minK; k <= maxK; k++) {
    const grouped = kmeans(sample, k, { seed: options.seed, restarts: options.restarts });
    groupings.set(k, grouped);
    tried.push({ k, silhouette: silhouette(sample, grouped.labels, k) });
  }
  const k = pickK(tried);
  // The sample's grouping is every point's when the sample is all of them; else group them all.
  const result = sample === points ? groupings.get(k)! : kmeans(points, k, { seed: options.seed, restarts: options.restarts });
  return { k, tried, result };
}
