// Live feeds shared by their subscribers: one ranking per event burst whatever the number of
// subscribers, new items merged rather than the pool ranked again, failures retried.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createInProcessBus } from '../../src/events/event-bus.js';
import type { Feed, FeedState } from '../../src/services/feed.service.js';
import { createFeedUpdatesService } from '../../src/services/feed-updates.service.js';
import type { ItemRow } from '../../src/repositories/item.repository.js';

const viewer = { tenantId: 't1', role: 'app' as const, keyId: 'k1' };
const row = (id: number): ItemRow => ({
  id,
  externalId: `i${id}`,
  url: null,
  prompt: null,
  embedding: new Float32Array(4),
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

function fakeFeeds() {
  const calls = { rank: 0, merge: [] as number[][], fail: 0 };
  const state = (n: number): FeedState => ({
    feed: {
      userId: 'u',
      entries: Array.from({ length: n }, (_, i) => ({ item: row(i + 1), score: 1 - i / 100, rank: i + 1 })),
      degraded: false,
      degradedReason: null,
      modelVersion: '1',
    },
    history: [],
    rated: new Set(),
  });
  return {
    calls,
    feed: {
      async rank(): Promise<FeedState> {
        if (calls.fail > 0) {
          calls.fail--;
          throw new Error('database unavailable');
        }
        calls.rank++;
        return state(3);
      },
      async mergeItems(_: unknown, s: FeedState, rows: readonly ItemRow[]): Promise<FeedState> {
        calls.merge.push(rows.map((r) => r.id));
        return { ...s, feed: { ...s.feed, entries: [...s.feed.entries, ...rows.map((item, i) => ({ item, score: 0, rank: s.feed.entries.length + i + 1 }))] } };
      },
      async itemRows(_: string, ids: readonly number[]) {
        return ids.map(row);
      },
    },
  };
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(condition()).toBe(true);
};

function setup() {
  const bus = createInProcessBus();
  const fake = fakeFeeds();
  const errors: unknown[] = [];
  const live = createFeedUpdatesService({
    feed: fake.feed,
    bus,
    admission: { rerank: (_t, work) => work() },
    coalesceMs: 5,
    log: pino({ level: 'silent' }),
    onError: (e) => errors.push(e),
  });
  return { bus, fake, live, errors };
}

describe('live feeds', () => {
  it('N subscribers of one user share one ranking per event', async () => {
    const { bus, fake, live } = setup();
    const got: Feed[][] = [[], [], []];
    const subs = got.map((list) => live.subscribe(viewer, 'u', 20, (feed) => list.push(feed)));
    await Promise.all(subs.map((s) => s.initial));
    expect(fake.calls.rank).toBe(1); // joiners during the first ranking wait for it
    const ranked = fake.calls.rank;
    await bus.publish({ type: 'interactions-recorded', tenantId: 't1', userIds: ['u'] });
    await until(() => got.every((l) => l.length === 1));
    expect(fake.calls.rank).toBe(ranked + 1);
    expect(got[1][0]).toBe(got[0][0]); // the same ranking, not three equal ones
    expect(live.stats()).toEqual({ feeds: 1, subscribers: 3 });
    // A fourth joiner takes the current ranking without ranking again.
    const late = live.subscribe(viewer, 'u', 20, () => {});
    expect(await late.initial).toBe(got[0][0]);
    expect(fake.calls.rank).toBe(ranked + 1);
    for (const s of [...subs, late]) s.close();
    expect(live.stats()).toEqual({ feeds: 0, subscribers: 0 });
  });

  it('merges new items into the ranking instead of ranking the pool again', async () => {
    const { bus, fake, live } = setup();
    const feeds: Feed[] = [];
    const sub = live.subscribe(viewer, 'u', 20, (feed) => feeds.push(feed));
    await sub.initial;
    const ranked = fake.calls.rank;
    await bus.publish({ type: 'items-upserted', tenantId: 't1', itemIds: [10, 11] });
    await bus.publish({ type: 'items-upserted', tenantId: 't1', itemIds: [12] }); // coalesced with the first
    await bus.publish({ type: 'items-upserted', tenantId: 'another-tenant', itemIds: [99] });
    await until(() => feeds.length === 1);
    expect(fake.calls.rank).toBe(ranked);
    expect(fake.calls.merge).toEqual([[10, 11, 12]]);
    expect(feeds[0].entries.map((e) => e.item.id)).toEqual([1, 2, 3, 10, 11, 12]);
    sub.close();
  });

  it('ranks again from scratch when a full reason joins new items', async () => {
    const { bus, fake, live } = setup();
    const reasons: string[][] = [];
    const sub = live.subscribe(viewer, 'u', 20, (_, why) => reasons.push([...why]));
    await sub.initial;
    const ranked = fake.calls.rank;
    await bus.publish({ type: 'items-upserted', tenantId: 't1', itemIds: [10] });
    live.modelChanged();
    await until(() => reasons.length === 1);
    expect(fake.calls.rank).toBe(ranked + 1);
    expect(fake.calls.merge).toEqual([]);
    expect(reasons[0].sort()).toEqual(['MODEL', 'NEW_ITEMS']);
    sub.close();
  });

  it("keeps only the best entries its subscribers' pages show, and ranks again for a longer page", async () => {
    const { bus, fake, live } = setup();
    const feeds: Feed[] = [];
    const small = live.subscribe(viewer, 'u', 2, (feed) => feeds.push(feed));
    expect((await small.initial).entries).toHaveLength(3); // the first answer is the whole ranking
    await bus.publish({ type: 'items-upserted', tenantId: 't1', itemIds: [10] });
    await until(() => feeds.length === 1);
    expect(feeds[0].entries.map((e) => e.item.id)).toEqual([1, 2]);
    expect(feeds[0].truncated).toBe(true);
    const ranked = fake.calls.rank;
    const wide = live.subscribe(viewer, 'u', 3, () => {});
    expect((await wide.initial).entries).toHaveLength(3);
    expect(fake.calls.rank).toBe(ranked + 1);
    small.close();
    wide.close();
  });

  it('keeps a live feed through a failed ranking and tries again', async () => {
    const { bus, fake, live, errors } = setup();
    const feeds: Feed[] = [];
    const sub = live.subscribe(viewer, 'u', 20, (feed) => feeds.push(feed));
    await sub.initial;
    fake.calls.fail = 2;
    await bus.publish({ type: 'bus-resynced' });
    await until(() => feeds.length === 1);
    expect(errors.map((e) => (e as Error).message)).toEqual(['database unavailable', 'database unavailable']);
    sub.close();
  });
});
