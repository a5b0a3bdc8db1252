import { describe, expect, it } from 'vitest';
import { generateTasteWorld, WORLD_PRESETS } from '../../src/synth/taste-world.js';

function agreement(world: ReturnType<typeof generateTasteWorld>, a: string, b: string): number | undefined {
  const labels = (u: string) => new Map(world.interactions.filter((e) => e.user === u && e.pair === null).map((e) => [e.item, e.label]));
  const la = labels(a);
  const lb = labels(b);
  let same = 0;
  let both = 0;
  for (const [item, label] of la) {
    if (!lb.has(item)) continue;
    both++;
    if (lb.get(item) === label) same++;
  }
  return both ? same / both : undefined;
}

describe('generateTasteWorld', () => {
  it('is the same for the same seed and different for another', () => {
    const a = generateTasteWorld({ users: 5, items: 50, seed: 7 });
    const b = generateTasteWorld({ users: 5, items: 50, seed: 7 });
    const c = generateTasteWorld({ users: 5, items: 50, seed: 8 });
    expect(a.interactions).toEqual(b.interactions);
    expect(Array.from(a.items[3].vector)).toEqual(Array.from(b.items[3].vector));
    expect(a.interactions).not.toEqual(c.interactions);
  });

  it('makes pairs of one like and one dislike, and the requested counts', () => {
    const world = generateTasteWorld({ users: 20, items: 100, interactionsPerUser: 30, pairShare: 0.5 });
    expect(world.items).toHaveLength(100);
    expect(world.users).toHaveLength(20);
    expect(world.interactions).toHaveLength(600);
    const pairs = new Map<string, number[]>();
    for (const e of world.interactions) if (e.pair) pairs.set(e.pair, [...(pairs.get(e.pair) ?? []), e.label]);
    expect(pairs.size).toBeGreaterThan(50);
    for (const labels of pairs.values()) expect(labels.sort()).toEqual([0, 1]);
  });

  it('users of one taste group agree more often than users of different groups (Assumption 1)', () => {
    // Few items, many interactions: users overlap on many items, so agreement is measurable.
    const world = generateTasteWorld({ users: 40, groups: 4, items: 80, interactionsPerUser: 80, pairShare: 0, seed: 3 });
    const within: number[] = [];
    const across: number[] = [];
    for (const a of world.users) {
      for (const b of world.users) {
        if (a.id >= b.id) continue;
        const value = agreement(world, a.id, b.id);
        if (value !== undefined) (a.group === b.group ? within : across).push(value);
      }
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(within)).toBeGreaterThan(mean(across) + 0.08);
  });
});

describe('world presets (issue 14)', () => {
  it('short-history: every user has 4 to 8 interactions, and the counts vary', () => {
    const world = generateTasteWorld({ ...WORLD_PRESETS['short-history'], users: 200, items: 300 });
    const counts = new Map<string, number>();
    for (const e of world.interactions) counts.set(e.user, (counts.get(e.user) ?? 0) + 1);
    expect(counts.size).toBe(200);
    expect(Math.min(...counts.values())).toBe(4);
    expect(Math.max(...counts.values())).toBe(8);
  });

  it('pairwise-fresh: each image is made for the one choice it appears in, both of one style', () => {
    const world = generateTasteWorld({ ...WORLD_PRESETS['pairwise-fresh'], users: 20, interactionsPerUser: 10 });
    const judged = new Map<string, number>();
    for (const e of world.interactions) judged.set(e.item, (judged.get(e.item) ?? 0) + 1);
    // No catalogue: only the images the choices were made on, each judged once.
    expect(world.items.length).toBe(world.interactions.length);
    expect([...judged.values()].every((n) => n === 1)).toBe(true);
    const style = new Map(world.items.map((i) => [i.id, i.style]));
    const pairs = new Map<string, number[]>();
    for (const e of world.interactions) pairs.set(e.pair!, [...(pairs.get(e.pair!) ?? []), style.get(e.item)!]);
    expect(pairs.size).toBe(world.interactions.length / 2);
    for (const styles of pairs.values()) expect(styles[0]).toBe(styles[1]);
  });

  it('pairwise: every interaction is one of a pair of two images of one style, one liked', () => {
    const world = generateTasteWorld({ ...WORLD_PRESETS.pairwise, users: 20, items: 120 });
    expect(world.interactions.every((e) => e.pair !== null)).toBe(true);
    const style = new Map(world.items.map((i) => [i.id, i.style]));
    const pairs = new Map<string, { styles: number[]; labels: number[] }>();
    for (const e of world.interactions) {
      const p = pairs.get(e.pair!) ?? { styles: [], labels: [] };
      p.styles.push(style.get(e.item)!);
      p.labels.push(e.label);
      pairs.set(e.pair!, p);
    }
    for (const p of pairs.values()) {
      expect(p.labels.sort()).toEqual([0, 1]);
      expect(p.styles[0]).toBe(p.styles[1]);
    }
  });

  it('leaves a world without a minimum as it was', () => {
    expect(generateTasteWorld({ users: 5, items: 50, seed: 7 })).toEqual(generateTasteWorld({ users: 5, items: 50, seed: 7, interactionsPerUserMin: 40 }));
  });
});

describe('the truth a world records (for trainer.bench_world_ceiling)', () => {
  // With almost no label noise every label is what the recorded utility says, so a truth that
  // missed a user's taste, an item's point or the quality weight would show here.
  const world = generateTasteWorld({ users: 30, groups: 3, items: 200, interactionsPerUser: 30, pairShare: 0.5, labelNoise: 1e-4, seed: 4 });
  const { truth } = world;
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i], 0);
  const utility = (user: string, item: string) => {
    const x = truth.latent.get(item)!;
    return (1 - truth.qualityWeight) * dot(truth.tastes.get(user)!, x) + truth.qualityWeight * dot(truth.quality, x);
  };

  it("explains every label: a pair's winner has the higher utility, a single like a positive one", () => {
    const byPair = new Map<string, { like?: string; dislike?: string }>();
    let singles = 0;
    for (const e of world.interactions) {
      if (e.pair === null) {
        singles++;
        expect(utility(e.user, e.item) > 0, `${e.user} ${e.item}`).toBe(e.label === 1);
      } else {
        byPair.set(e.pair, { ...byPair.get(e.pair), [e.label === 1 ? 'like' : 'dislike']: e.item });
      }
    }
    expect(singles).toBeGreaterThan(100);
    expect(byPair.size).toBeGreaterThan(100);
    for (const [pair, { like, dislike }] of byPair) {
      const user = pair.slice(0, pair.lastIndexOf('-p'));
      expect(utility(user, like!)).toBeGreaterThan(utility(user, dislike!));
    }
  });

  it("records each user's taste near their own group's, and the settings the labels were drawn with", () => {
    for (const u of world.users) {
      const taste = truth.tastes.get(u.id)!;
      const own = dot(taste, truth.groupTastes[u.group]);
      truth.groupTastes.forEach((g, k) => k === u.group || expect(own).toBeGreaterThan(dot(taste, g)));
    }
    expect(truth.latent.size).toBe(world.items.length);
    expect(truth).toMatchObject({ qualityWeight: 0.3, labelNoise: 1e-4, personalSpread: 0.5 });
  });
});
