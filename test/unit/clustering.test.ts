// The clustering functions against cases small enough to compute by hand (the figures in the
// comments), and against scikit-learn's documented examples for the adjusted Rand index.
import { describe, expect, it } from 'vitest';
import { kmeans } from '../../src/clustering/kmeans.js';
import { adjustedRandIndex, calinskiHarabasz, daviesBouldin, silhouette } from '../../src/clustering/quality.js';
import { chooseK, largestK, pickK } from '../../src/clustering/choose-k.js';
import { project2d } from '../../src/clustering/projection.js';
import { liftOf, topByLift } from '../../src/clustering/lift.js';
import { createRandom, pointsOf } from '../../src/clustering/points.js';
import { columns, layoutOf } from '../../src/clustering/tokens.js';

// Two pairs on a line: {0, 1} and {10, 11}.
const line = pointsOf([[0], [1], [10], [11]]);
const lineLabels = [0, 0, 1, 1];

describe('k-means++', () => {
  it('finds two obvious groups, their centroids and inertia', () => {
    const squares = pointsOf([
      [0, 0],
      [0, 1],
      [10, 10],
      [10, 11],
    ]);
    const result = kmeans(squares, 2, { seed: 3 });
    expect(result.labels[0]).toBe(result.labels[1]);
    expect(result.labels[2]).toBe(result.labels[3]);
    expect(result.labels[0]).not.toBe(result.labels[2]);
    const c = result.labels[0];
    expect([...result.centroids.subarray(c * 2, c * 2 + 2)]).toEqual([0, 0.5]);
    // Each point is 0.5 from its centroid: 4 * 0.25.
    expect(result.inertia).toBeCloseTo(1, 10);
  });

  it('gives the same groups for the same seed, and refuses an impossible k', () => {
    const random = createRandom(9);
    const points = pointsOf(Array.from({ length: 200 }, () => [random.normal(), random.normal(), random.normal()]));
    expect([...kmeans(points, 4, { seed: 1 }).labels]).toEqual([...kmeans(points, 4, { seed: 1 }).labels]);
    expect(() => kmeans(line, 5)).toThrow('k: expected at most the number of points (4), got 5');
    expect(() => kmeans(line, 0)).toThrow('k: expected a positive integer, got 0');
  });
});

describe('quality figures', () => {
  it('silhouette: mean of (b - a) / max(a, b)', () => {
    // Point 0: a = 1, b = (10 + 11) / 2 = 10.5, s = 1 - 1/10.5; point 1: a = 1, b = 9.5; symmetric for 2 and 3.
    const expected = (2 * (1 - 1 / 10.5) + 2 * (1 - 1 / 9.5)) / 4;
    expect(silhouette(line, lineLabels, 2)).toBeCloseTo(expected, 12);
    // A point alone in its group scores 0: (0 + s1 + s2 + s3) / 4 with {0}, {1, 10, 11}... computed:
    // point 1: a = (9 + 10) / 2 = 9.5, b = 1, s = (1 - 9.5) / 9.5; point 10: a = (9 + 1) / 2 = 5, b = 10, s = 0.5; point 11: a = (10 + 1) / 2 = 5.5, b = 11, s = 0.5.
    expect(silhouette(line, [0, 1, 1, 1], 2)).toBeCloseTo((0 + (1 - 9.5) / 9.5 + 0.5 + 0.5) / 4, 12);
  });

  it('Davies-Bouldin: spreads 0.5 and 0.5 over a centroid distance of 10', () => {
    expect(daviesBouldin(line, lineLabels, 2)).toBeCloseTo(0.1, 12);
  });

  it('Calinski-Harabasz: between 100 / (k - 1) over within 1 / (n - k)', () => {
    // Overall mean 5.5; between = 2 * 5^2 + 2 * 5^2 = 100; within = 4 * 0.5^2 = 1.
    expect(calinskiHarabasz(line, lineLabels, 2)).toBeCloseTo(200, 10);
  });

  it('adjusted Rand index: scikit-learn examples', () => {
    expect(adjustedRandIndex([0, 0, 1, 1], [1, 1, 0, 0])).toBe(1);
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1])).toBeCloseTo(-0.5, 12);
    expect(adjustedRandIndex([0, 0, 1, 2], [0, 0, 1, 1])).toBeCloseTo(0.5714285714285715, 12);
    expect(adjustedRandIndex(['a', 'a', 'b'], [7, 7, 8])).toBe(1);
    expect(() => adjustedRandIndex([0], [0, 1])).toThrow('labelings of 1 and 2 points');
  });
});

describe('choosing k by silhouette', () => {
  it('finds three separated blobs, sampled or not', () => {
    const random = createRandom(4);
    const centres = [
      [0, 0],
      [8, 0],
      [0, 8],
    ];
    const truth: number[] = [];
    const points = pointsOf(
      Array.from({ length: 600 }, (_, i) => {
        truth.push(i % 3);
        const [x, y] = centres[i % 3];
        return [x + random.normal(), y + random.normal()];
      }),
    );
    for (const sampleSize of [1000, 150]) {
      const choice = chooseK(points, { minK: 2, maxK: 6, sampleSize, seed: 0 });
      expect(choice.k).toBe(3);
      expect(choice.tried.map((t) => t.k)).toEqual([2, 3, 4, 5, 6]);
      expect(adjustedRandIndex(choice.result.labels, truth)).toBeGreaterThan(0.95);
    }
  });
});

describe('the largest k tried', () => {
  it("is TASTE_GROUPS_MAX_K, or the model's latent classes where it has more", () => {
    expect(largestK(12, { tokensDim: 10 })).toBe(12);
    expect(largestK(12, { tokensDim: 16 })).toBe(16);
    expect(largestK(12, layoutOf(Float32Array.from([0.5, 0.5, 1.5, -0.5]), 2))).toBe(12); // no tokens
  });
});

describe('picking k from the silhouettes tried', () => {
  it('takes the best, unless a smaller k is within the tolerance of it', () => {
    const tried = [
      { k: 2, silhouette: 0.3 },
      { k: 3, silhouette: 0.741 },
      { k: 4, silhouette: 0.749 },
      { k: 5, silhouette: 0.7 },
    ];
    expect(pickK(tried, 0.02)).toBe(3);
    expect(pickK(tried, 0.005)).toBe(4);
    expect(
      pickK([
        { k: 2, silhouette: 0.5 },
        { k: 3, silhouette: 0.5 },
      ]),
    ).toBe(2);
  });
});

describe('2-D projection', () => {
  it('puts points on a line along the first axis', () => {
    // Centred: (-1, -2), (0, 0), (1, 2); the first axis is (1, 2) / sqrt(5).
    const { coordinates, explained } = project2d(
      pointsOf([
        [0, 0],
        [1, 2],
        [2, 4],
      ]),
    );
    expect(coordinates[0]).toBeCloseTo(-Math.sqrt(5), 6);
    expect(coordinates[2]).toBeCloseTo(0, 6);
    expect(coordinates[4]).toBeCloseTo(Math.sqrt(5), 6);
    for (const i of [1, 3, 5]) expect(coordinates[i]).toBeCloseTo(0, 6);
    expect(explained[0]).toBeCloseTo(1, 6);
    expect(explained[1]).toBeCloseTo(0, 6);
  });
});

describe('what a representation holds', () => {
  it('splits taste coordinates from token activations, and knows older and token-less models', () => {
    const current = Float32Array.from([0.4, -1.2, 0.25, 0.75, 2.0, 0.1, 1, 0]);
    expect(layoutOf(current, 4)).toEqual({ tasteDim: 2, tokensAt: 2, tokensDim: 2 });
    expect([...columns(current, 4, 2, 2)]).toEqual([0.25, 0.75, 1, 0]);
    expect([...columns(current, 4, 0, 2)].map((x) => Math.round(x * 10) / 10)).toEqual([0.4, -1.2, 2, 0.1]);
    // Activations alone (models exported before the taste coordinates).
    expect(layoutOf(Float32Array.from([0.2, 0.3, 0.5, 0.9, 0.05, 0.05]), 3)).toEqual({ tasteDim: 3, tokensAt: 0, tokensDim: 3 });
    // No tokens: one row that is no distribution decides for all.
    expect(layoutOf(Float32Array.from([0.5, 0.5, 1.5, -0.5]), 2)).toEqual({ tasteDim: 2, tokensAt: null, tokensDim: 0 });
  });
});

describe('lift', () => {
  it('is the group rate, shrunk toward the tenant rate, over the tenant rate', () => {
    // Tenant: 10 of 100 users liked it (0.1). Group: 5 of 10, with prior 10: (5 + 10 * 0.1) / 20 = 0.3; lift 3.
    expect(liftOf({ itemId: 1, group: 5, tenant: 10 }, { groupUsers: 10, tenantUsers: 100, prior: 10 })).toBeCloseTo(3, 12);
  });

  it('ranks by lift, not count, and leaves out rare and unloved items', () => {
    const counts = [
      { itemId: 1, group: 9, tenant: 90 }, // liked by nearly everyone: lift (9 + 0.9*2)/12 / 0.9 = 1.0
      { itemId: 2, group: 4, tenant: 5 }, //  (4 + 0.1) / 12 / 0.05 = 6.83
      { itemId: 3, group: 1, tenant: 1 }, //  one user: under minCount
      { itemId: 4, group: 3, tenant: 3 }, //  (3 + 0.06) / 12 / 0.03 = 8.5
    ];
    const top = topByLift(counts, { groupUsers: 10, tenantUsers: 100, prior: 2, minCount: 2, limit: 5 });
    expect(top.map((t) => t.itemId)).toEqual([4, 2]);
    expect(top[0].lift).toBeCloseTo(8.5, 10);
    expect(top[1].lift).toBeCloseTo(4.1 / 12 / 0.05, 10);
  });
});
