// The grouping on a thread of its own (src/services/grouping-off-thread.ts) runs the compiled
// grouping-thread.js of dist/ (vitest's global setup builds it): the same grouping as in line,
// while the caller's event loop keeps turning.
import { describe, expect, it } from 'vitest';
import { groupPoints, type GroupingOptions } from '../../src/clustering/grouping.js';
import { groupPointsOffThread } from '../../src/services/grouping-off-thread.js';
import { createRandom, type Points } from '../../src/clustering/points.js';

const THREAD = new URL('../../dist/clustering/grouping-thread.js', import.meta.url);

/** n points around `groups` centres in `dim` dimensions. */
function blobs(n: number, dim: number, groups: number): Points {
  const random = createRandom(5);
  const centres = Array.from({ length: groups }, () => Array.from({ length: dim }, () => random.normal() * 3));
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) data[i * dim + d] = centres[i % groups][d] + random.normal();
  return { n, dim, data };
}

const options: GroupingOptions = { minK: 2, maxK: 8, sampleSize: 1000, representatives: 5, seed: 3 };

describe('grouping off the event loop', () => {
  it('gives the grouping that groupPoints gives in line, k chosen or fixed', async () => {
    const points = blobs(3000, 6, 4);
    for (const o of [options, { ...options, k: 3 }]) {
      const inLine = groupPoints(points, o);
      const onThread = await groupPointsOffThread(points, o, THREAD);
      expect(onThread.k).toBe(inLine.k);
      expect(onThread.kSource).toBe(inLine.kSource);
      expect(onThread.tried).toEqual(inLine.tried);
      expect([...onThread.ordinals]).toEqual([...inLine.ordinals]);
      expect(onThread.centroids.map((c) => [...c])).toEqual(inLine.centroids.map((c) => [...c]));
      expect(onThread.representatives).toEqual(inLine.representatives);
      expect([onThread.silhouette, onThread.daviesBouldin, onThread.calinskiHarabasz]).toEqual([
        inLine.silhouette,
        inLine.daviesBouldin,
        inLine.calinskiHarabasz,
      ]);
      expect([...onThread.coordinates]).toEqual([...inLine.coordinates]);
    }
    expect(groupPoints(points, options).k).toBe(4);
  });

  it('leaves the event loop free while it groups, where grouping in line holds it throughout', async () => {
    const points = blobs(20_000, 10, 6);
    const turnsDuring = async (group: () => Promise<unknown>) => {
      let turns = 0;
      const timer = setInterval(() => turns++, 1);
      await group();
      clearInterval(timer);
      return turns;
    };
    const onThread = await turnsDuring(() => groupPointsOffThread(points, options, THREAD));
    const inLine = await turnsDuring(async () => groupPoints(points, options));
    expect(inLine).toBeLessThanOrEqual(1);
    expect(onThread).toBeGreaterThan(20);
  });

  it('fails, naming the thread, when the thread cannot run', async () => {
    await expect(groupPointsOffThread(blobs(10, 2, 2), options, new URL('../../dist/clustering/no-such-thread.js', import.meta.url))).rejects.toThrow(
      /no-such-thread/,
    );
  });
});
