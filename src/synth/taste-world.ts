// A synthetic world of image-like items and users whose tastes fall into groups, after the
// paper's Assumption 1: users of one group are close in taste, users of different groups
// are apart. Items are vectors scattered around style clusters; every user also shares a
// common sense of quality. Likes and dislikes are noisy draws from each user's utility.
import { createRandom, type Random } from './random.js';

export interface TasteWorldOptions {
  users: number;
  groups: number;
  items: number;
  dim: number;
  styles: number;
  interactionsPerUser: number;
  /**
   * With a value below interactionsPerUser, each user's count is drawn uniformly from
   * [interactionsPerUserMin, interactionsPerUser]: a tenant whose users mostly have short
   * histories. Unset (or equal): every user has interactionsPerUser.
   */
  interactionsPerUserMin?: number;
  /** Share of each user's interactions that come as pairs: one choice between two images of one style. */
  pairShare: number;
  /**
   * Every interaction is on images made for it, so no image is judged twice (as in public
   * pairwise data such as Pick-a-Pic, where each image was generated for one user's prompt):
   * counting an image's likes tells nothing about it. `items` is then unused. Unset: every
   * interaction draws from one catalogue of `items` images, as in MovieLens.
   */
  freshImages?: boolean;
  /** How far a user strays from their group's taste (0 = clones). */
  personalNoise: number;
  /** Weight of the quality direction all users share, against their own taste. */
  qualityWeight: number;
  /** Logistic noise on each choice: higher means noisier labels. */
  labelNoise: number;
  /**
   * The dimension tastes live in. Vectors of a larger `dim` are this space lifted into `dim`
   * by a fixed random rotation, plus a little isotropic noise, as with CLIP-like embeddings,
   * where a few directions carry what people care about. Without it, taste signals between
   * random unit vectors shrink as 1/sqrt(dim): at 512 dimensions likes and dislikes were
   * close to coin flips (every scorer, the history centroid included, near 50% pairwise).
   */
  latentDim: number;
  seed: number;
}

/**
 * Kinds of tenant the model must lead on (issue 14), as options over the default world:
 * - pairwise: every interaction is a choice between two images for one prompt, and most of a
 *   choice is overall quality shared by everyone (as in public human-preference data, where a
 *   global aesthetic score predicts most choices), a smaller part the user's own taste;
 * - pairwise-fresh: the same, with each image generated for the one choice it appears in, as in
 *   that data (the pairwise world draws from a catalogue each image of which about 48 users judge,
 *   which lets a count of likes per image, a popularity baseline, do well there);
 * - short-history: most users have 2 to 4 likes and as many dislikes.
 */
export const WORLD_PRESETS: Record<string, Partial<TasteWorldOptions>> = {
  pairwise: { pairShare: 1, qualityWeight: 0.7 },
  'pairwise-fresh': { pairShare: 1, qualityWeight: 0.7, freshImages: true },
  'short-history': { interactionsPerUserMin: 4, interactionsPerUser: 8 },
};

export const DEFAULT_WORLD: TasteWorldOptions = {
  users: 60,
  groups: 4,
  items: 600,
  dim: 32,
  styles: 12,
  interactionsPerUser: 40,
  pairShare: 0.25,
  personalNoise: 0.25,
  qualityWeight: 0.3,
  labelNoise: 0.08,
  latentDim: 32,
  seed: 1,
};

/** Spread of the isotropic noise added to a lifted vector (its latent part has norm 1). */
const LIFT_NOISE = 0.3;

export interface WorldItem {
  id: string;
  prompt: string;
  style: number;
  vector: Float32Array;
}

export interface WorldUser {
  id: string;
  group: number;
}

export interface WorldInteraction {
  user: string;
  item: string;
  label: 0 | 1;
  ts: number;
  pair: string | null;
}

export interface TasteWorld {
  items: WorldItem[];
  users: WorldUser[];
  interactions: WorldInteraction[];
  truth: WorldTruth;
}

/**
 * What the world's labels were drawn from, in the latent space: a user's utility for an item at
 * latent point x is (1 - qualityWeight) · taste · x + qualityWeight · quality · x; a single image
 * is liked with probability σ(utility / labelNoise), one image of a pair wins with probability
 * σ(Δutility / labelNoise). No model is given it; `npm run synth -- --truth` writes it so that a
 * bench can say how much any model could gain over the baselines in this world (its ceiling).
 */
export interface WorldTruth {
  quality: Float64Array;
  qualityWeight: number;
  labelNoise: number;
  /** Each group's taste; a user's is near(group taste, personalSpread). */
  groupTastes: Float64Array[];
  personalSpread: number;
  /** Each user's own taste, by user id. */
  tastes: Map<string, Float64Array>;
  /** Each item's latent point (the app's vector before the lift), by item id. */
  latent: Map<string, Float64Array>;
}

function unitVector(random: Random, dim: number): Float64Array {
  const v = new Float64Array(dim);
  for (let i = 0; i < dim; i++) v[i] = random.normal();
  return normalize(v);
}

function normalize(v: Float64Array): Float64Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return v.map((x) => x / norm);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Points near `center`: center + spread · (unit noise). */
function near(random: Random, center: Float64Array, spread: number): Float64Array {
  const noise = unitVector(random, center.length);
  return normalize(center.map((x, i) => x + spread * noise[i]));
}

const STYLE_WORDS = [
  'watercolor',
  'neon',
  'oil painting',
  'pixel art',
  'photoreal',
  'ink sketch',
  'low poly',
  'pastel',
  'noir',
  'vaporwave',
  'ukiyo-e',
  'claymation',
];
const SUBJECTS = ['a fox', 'a lighthouse', 'a city at night', 'a cat', 'mountains', 'a robot', 'a forest', 'a portrait', 'the sea', 'a dragon'];

/**
 * A map from `latent` dimensions into `dim` whose columns are orthonormal (Gram-Schmidt on
 * Gaussian columns), plus noise: dot products between latent vectors survive the lift.
 */
function lifter(seed: number, latent: number, dim: number): (v: Float64Array) => Float64Array {
  const random = createRandom(seed);
  const columns: Float64Array[] = [];
  while (columns.length < latent) {
    const c = unitVector(random, dim);
    for (const q of columns) {
      const d = dot(c, q);
      for (let i = 0; i < dim; i++) c[i] -= d * q[i];
    }
    columns.push(normalize(c));
  }
  return (v) => {
    const out = new Float64Array(dim);
    for (let j = 0; j < latent; j++) for (let i = 0; i < dim; i++) out[i] += v[j] * columns[j][i];
    const noise = unitVector(random, dim);
    return normalize(out.map((x, i) => x + LIFT_NOISE * noise[i]));
  };
}

export function generateTasteWorld(options: Partial<TasteWorldOptions> = {}): TasteWorld {
  const o = { ...DEFAULT_WORLD, ...options };
  const random = createRandom(o.seed);
  // Tastes and items live in `space` dimensions; items are lifted into `dim` when it is larger.
  const space = Math.min(o.dim, o.latentDim);
  // A generator of its own, so that worlds of up to latentDim dimensions stay what they were.
  const lift = space < o.dim ? lifter(o.seed + 0x9e3779b9, space, o.dim) : (v: Float64Array) => v;
  const quality = unitVector(random, space);
  const styleCenters = Array.from({ length: o.styles }, () => unitVector(random, space));
  const groupTastes = Array.from({ length: o.groups }, () => unitVector(random, space));

  // Utilities are computed in the latent space (the truth); the vectors apps send are lifted.
  const latent = new Map<string, Float64Array>();
  const items: WorldItem[] = [];
  const makeItem = (style: number): WorldItem => {
    const id = `item-${items.length}`;
    const prompt = `${SUBJECTS[random.int(SUBJECTS.length)]}, ${STYLE_WORDS[style % STYLE_WORDS.length]}`; // drawn first, as always
    const point = near(random, styleCenters[style], 0.8);
    // Unlifted, the app's float32 vector itself (so worlds of up to latentDim dimensions are as before).
    latent.set(id, space < o.dim ? point : Float64Array.from(Float32Array.from(point)));
    const item = { id, style, prompt, vector: Float32Array.from(lift(point)) };
    items.push(item);
    return item;
  };
  if (!o.freshImages) for (let i = 0; i < o.items; i++) makeItem(i % o.styles);
  const byStyle = styleCenters.map((_, s) => items.filter((item) => item.style === s));

  const users: WorldUser[] = [];
  const interactions: WorldInteraction[] = [];
  const tastes = new Map<string, Float64Array>();
  for (let u = 0; u < o.users; u++) {
    const group = u % o.groups;
    const user = { id: `user-${u}`, group };
    users.push(user);
    const taste = near(random, groupTastes[group], o.personalNoise * 2);
    tastes.set(user.id, taste);
    const utility = (item: WorldItem) => {
      const point = latent.get(item.id)!;
      return (1 - o.qualityWeight) * dot(taste, point) + o.qualityWeight * dot(quality, point);
    };
    const choose = (delta: number) => random.next() < 1 / (1 + Math.exp(-delta / o.labelNoise));
    let ts = 1_700_000_000 + u * 10_000;
    let pairs = 0;
    // Drawn only when asked for, so that worlds of a fixed count stay what they were.
    const min = o.interactionsPerUserMin ?? o.interactionsPerUser;
    const count = min < o.interactionsPerUser ? min + random.int(o.interactionsPerUser - min + 1) : o.interactionsPerUser;
    for (let n = 0; n < count;) {
      ts += 1 + random.int(60);
      if (random.next() < o.pairShare && n + 1 < count) {
        // A choice between two images made for one prompt (same style): one liked, one not.
        const style = random.int(byStyle.length);
        const pool = byStyle[style];
        const a = o.freshImages ? makeItem(style) : pool[random.int(pool.length)];
        const b = o.freshImages ? makeItem(style) : pool[random.int(pool.length)];
        if (a === b) continue;
        const aWins = choose(utility(a) - utility(b));
        const pair = `${user.id}-p${pairs++}`;
        interactions.push({ user: user.id, item: (aWins ? a : b).id, label: 1, ts, pair });
        interactions.push({ user: user.id, item: (aWins ? b : a).id, label: 0, ts, pair });
        n += 2;
      } else {
        // A single image, liked when its utility beats the user's typical one.
        const item = o.freshImages ? makeItem(random.int(o.styles)) : items[random.int(items.length)];
        interactions.push({ user: user.id, item: item.id, label: choose(utility(item)) ? 1 : 0, ts, pair: null });
        n += 1;
      }
    }
  }
  const truth: WorldTruth = {
    quality,
    qualityWeight: o.qualityWeight,
    labelNoise: o.labelNoise,
    groupTastes,
    personalSpread: o.personalNoise * 2,
    tastes,
    latent,
  };
  return { items, users, interactions, truth };
}
