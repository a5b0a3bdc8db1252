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
  /** Share of each user's interactions that come as pairs: one choice between two images of one style. */
  pairShare: number;
  /** How far a user strays from their group's taste (0 = clones). */
  personalNoise: number;
  /** Weight of the quality direction all users share, against their own taste. */
  qualityWeight: number;
  /** Logistic noise on each choice: higher means noisier labels. */
  labelNoise: number;
  seed: number;
}

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
  seed: 1,
};

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

const STYLE_WORDS = ['watercolor', 'neon', 'oil painting', 'pixel art', 'photoreal', 'ink sketch', 'low poly', 'pastel', 'noir', 'vaporwave', 'ukiyo-e', 'claymation'];
const SUBJECTS = ['a fox', 'a lighthouse', 'a city at night', 'a cat', 'mountains', 'a robot', 'a forest', 'a portrait', 'the sea', 'a dragon'];

export function generateTasteWorld(options: Partial<TasteWorldOptions> = {}): TasteWorld {
  const o = { ...DEFAULT_WORLD, ...options };
  const random = createRandom(o.seed);
  const quality = unitVector(random, o.dim);
  const styleCenters = Array.from({ length: o.styles }, () => unitVector(random, o.dim));
  const groupTastes = Array.from({ length: o.groups }, () => unitVector(random, o.dim));

  const items: WorldItem[] = Array.from({ length: o.items }, (_, i) => {
    const style = i % o.styles;
    return {
      id: `item-${i}`,
      style,
      prompt: `${SUBJECTS[random.int(SUBJECTS.length)]}, ${STYLE_WORDS[style % STYLE_WORDS.length]}`,
      vector: Float32Array.from(near(random, styleCenters[style], 0.8)),
    };
  });
  const byStyle = styleCenters.map((_, s) => items.filter((item) => item.style === s));

  const users: WorldUser[] = [];
  const interactions: WorldInteraction[] = [];
  for (let u = 0; u < o.users; u++) {
    const group = u % o.groups;
    const user = { id: `user-${u}`, group };
    users.push(user);
    const taste = near(random, groupTastes[group], o.personalNoise * 2);
    const utility = (item: WorldItem) => (1 - o.qualityWeight) * dot(taste, item.vector) + o.qualityWeight * dot(quality, item.vector);
    const choose = (delta: number) => random.next() < 1 / (1 + Math.exp(-delta / o.labelNoise));
    let ts = 1_700_000_000 + u * 10_000;
    let pairs = 0;
    for (let n = 0; n < o.interactionsPerUser; ) {
      ts += 1 + random.int(60);
      if (random.next() < o.pairShare && n + 1 < o.interactionsPerUser) {
        // A choice between two images made for one prompt (same style): one liked, one not.
        const pool = byStyle[random.int(byStyle.length)];
        const a = pool[random.int(pool.length)];
        const b = pool[random.int(pool.length)];
        if (a === b) continue;
        const aWins = choose(utility(a) - utility(b));
        const pair = `${user.id}-p${pairs++}`;
        interactions.push({ user: user.id, item: (aWins ? a : b).id, label: 1, ts, pair });
        interactions.push({ user: user.id, item: (aWins ? b : a).id, label: 0, ts, pair });
        n += 2;
      } else {
        // A single image, liked when its utility beats the user's typical one.
        const item = items[random.int(items.length)];
        interactions.push({ user: user.id, item: item.id, label: choose(utility(item)) ? 1 : 0, ts, pair: null });
        n += 1;
      }
    }
  }
  return { items, users, interactions };
}
