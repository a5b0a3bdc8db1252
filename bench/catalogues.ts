// The benches' catalogues of item vectors (bench:index-partitions, bench:index-drift):
// - clustered: CLIP-like vectors. Points near one of `styles` centres in 32 latent dimensions
//   (`spread` 0.8 as the synth worlds), lifted into the dimension by a fixed random map plus
//   isotropic noise (0.3 of the latent part, as src/synth/taste-world.ts); a user's 8 likes are
//   the 8 items of a 4,000-item sample nearest a taste drawn near one style;
// - uniform: vectors uniform in the cube, likes at random: no structure for partitions to
//   follow, the worst case.
import { multiply } from '../src/ranking/similarity-session.js';

const LATENT = 32;

/** A fixed pseudo-random sequence in [-1, 1), so every run builds the same vectors. */
function sequence(seed: number) {
  let s = seed;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}
/** About normal (Irwin-Hall of 4). */
const normal = (r: () => number) => (r() + r() + r() + r()) * Math.sqrt(3 / 4);

function unitRandom(r: () => number, n: number): Float32Array {
  const v = Float32Array.from({ length: n }, () => normal(r));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

export interface Catalogue {
  /** Items' vectors, row-major, ids 1..n. */
  vectors: Float32Array;
  /** Each query: 8 liked item ids. */
  likes: number[][];
}

export interface CatalogueOptions {
  queries: number;
  styles: number;
  spread: number;
  /**
   * Other styles (their centres drawn from this seed) in the same space: the lift, the items'
   * offsets from their styles and the noise are the default catalogue's, so it is that
   * catalogue after its tenant's images moved on to new styles.
   */
  restyle?: number;
}

export async function catalogue(world: string, n: number, dim: number, o: CatalogueOptions): Promise<Catalogue> {
  const { queries: QUERIES, styles: STYLES, spread: SPREAD } = o;
  const r = sequence(11);
  if (world === 'uniform') {
    const vectors = Float32Array.from({ length: n * dim }, r);
    const likes = Array.from({ length: QUERIES }, () => Array.from({ length: 8 }, () => 1 + Math.floor(((r() + 1) / 2) * n)));
    return { vectors, likes };
  }
  let centres = Array.from({ length: STYLES }, () => unitRandom(r, LATENT));
  if (o.restyle !== undefined) {
    const other = sequence(o.restyle);
    centres = centres.map(() => unitRandom(other, LATENT));
  }
  const latent = new Float32Array(n * LATENT);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(((r() + 1) / 2) * STYLES)];
    const noise = unitRandom(r, LATENT);
    const p = c.map((x, d) => x + SPREAD * noise[d]);
    const norm = Math.hypot(...p);
    latent.set(
      p.map((x) => x / norm),
      i * LATENT,
    );
  }
  // The lift: latent rows times a random LATENT x dim map (onnxruntime), plus noise.
  const map = Float32Array.from({ length: LATENT * dim }, () => normal(r) / Math.sqrt(dim));
  const vectors = new Float32Array(n * dim);
  for (let first = 0; first < n; first += 8192) {
    const count = Math.min(8192, n - first);
    vectors.set(await multiply(latent.subarray(first * LATENT, (first + count) * LATENT), count, map, dim), first * dim);
  }
  for (let i = 0; i < n * dim; i++) vectors[i] += (0.3 * normal(r)) / Math.sqrt(dim);
  // Likes: the 8 items of a 4,000-item sample nearest a taste near one style (in latent space).
  const likes = Array.from({ length: QUERIES }, () => {
    const c = centres[Math.floor(((r() + 1) / 2) * STYLES)];
    const noise = unitRandom(r, LATENT);
    const taste = c.map((x, d) => x + 0.5 * noise[d]);
    const sample = Array.from({ length: 4000 }, () => Math.floor(((r() + 1) / 2) * n));
    const score = (i: number) => taste.reduce((s, x, d) => s + x * latent[i * LATENT + d], 0);
    return sample
      .map((i) => ({ i, s: score(i) }))
      .sort((a, b) => b.s - a.s)
      .slice(0, 8)
      .map((e) => e.i + 1);
  });
  return { vectors, likes };
}
