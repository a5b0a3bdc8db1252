// The per-tenant vector indexes' memory budget: least recently used tenants lose their index
// first, the one in use never does, and a dropped index is rebuilt on the tenant's next use.
// The item source is an in-memory stand-in for ItemRepository.changedSince (the real query is
// covered by test/integration/feed.service.test.ts).
import { describe, expect, it } from 'vitest';
import { createTenantIndexes } from '../../src/services/tenant-indexes.js';
import { createVectorIndex } from '../../src/ranking/vector-index.js';

const DIM = 4;
const ITEMS = 2000; // grows each index to 2,048 slots

function itemSource() {
  const reads: string[] = [];
  return {
    reads,
    items: {
      async changedSince(tenantId: string, since: string) {
        reads.push(tenantId);
        if (since !== '-infinity') return [];
        return Array.from({ length: ITEMS }, (_, i) => ({
          id: i + 1,
          embedding: Float32Array.from({ length: DIM }, (_, d) => (d === i % DIM ? 1 : 0)),
          updatedAt: '2026-01-01 00:00:00+00',
          version: 1,
        }));
      },
    },
  };
}

/** Bytes one tenant's index takes once built. */
function oneIndexBytes(): number {
  const index = createVectorIndex(DIM);
  for (let i = 0; i < ITEMS; i++) index.upsert(i + 1, [1, 0, 0, 0]);
  return index.bytes;
}

/** Uses the tenant's index until its background build has finished. */
async function use(indexes: ReturnType<typeof createTenantIndexes>, tenantId: string) {
  for (let i = 0; i < 100; i++) {
    const index = await indexes.indexFor(tenantId, DIM);
    if (index) return index;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`index of ${tenantId} never built`);
}

describe('tenant vector indexes within a memory budget', () => {
  it('drops the least recently used tenants first, and rebuilds a dropped index on its next use', async () => {
    const source = itemSource();
    const evicted: string[] = [];
    const indexes = createTenantIndexes({ items: source.items, budgetBytes: 2.5 * oneIndexBytes(), onEvict: (t) => evicted.push(t) });
    await use(indexes, 'a');
    await use(indexes, 'b');
    await use(indexes, 'a'); // a is now more recent than b
    await use(indexes, 'c');
    expect(evicted).toEqual(['b']);
    expect(indexes.held().tenants).toEqual(['a', 'c']);
    expect(indexes.held().bytes).toBeLessThanOrEqual(2.5 * oneIndexBytes());
    expect((await use(indexes, 'b')).size).toBe(ITEMS); // read again from the store
    expect(source.reads.filter((t) => t === 'b')).toHaveLength(2);
    expect(evicted).toEqual(['b', 'a']);
  });

  it('gives no index until the first build has read every page', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const source = itemSource();
    const slow = {
      async changedSince(tenantId: string, since: string) {
        await gate;
        return source.items.changedSince(tenantId, since);
      },
    };
    const indexes = createTenantIndexes({ items: slow, budgetBytes: 1 << 30 });
    expect(await indexes.indexFor('a', DIM)).toBeUndefined();
    expect(await indexes.indexFor('a', DIM)).toBeUndefined(); // still building: not a half-built index
    release();
    expect((await use(indexes, 'a')).size).toBe(ITEMS);
    expect(source.reads).toEqual(['a']); // one build (its one page), not one per call
  });

  it('keeps the index in use even when it alone is over the budget', async () => {
    const evicted: string[] = [];
    const indexes = createTenantIndexes({ items: itemSource().items, budgetBytes: 1, onEvict: (t) => evicted.push(t) });
    expect((await use(indexes, 'a')).size).toBe(ITEMS);
    expect(indexes.held().tenants).toEqual(['a']);
    await use(indexes, 'b');
    expect(evicted).toEqual(['a']);
    expect(indexes.held().tenants).toEqual(['b']);
  });
});

describe('a failed build', () => {
  it('is reported with its tenant, and the next use tries again', async () => {
    const failures: [string, string][] = [];
    let fail = true;
    const source = itemSource();
    const indexes = createTenantIndexes({
      items: {
        changedSince: (tenantId: string, since: string) => (fail ? Promise.reject(new Error('connection lost')) : source.items.changedSince(tenantId, since)),
      },
      budgetBytes: 1 << 30,
      onRefreshFailed: (tenantId, error) => failures.push([tenantId, (error as Error).message]),
    });
    expect(await indexes.indexFor('t1', DIM)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 10));
    expect(failures).toEqual([['t1', 'connection lost']]);
    fail = false;
    expect((await use(indexes, 't1')).size).toBe(ITEMS);
  });
});

describe('tenant vector indexes: deleted items', () => {
  it('drop deleted items at once, and a refresh that read them before the deletion does not put them back', async () => {
    let release: () => void = () => {};
    let stale = false;
    const items = {
      async changedSince(_tenantId: string, since: string) {
        const rows = Array.from({ length: 10 }, (_, i) => ({
          id: i + 1,
          embedding: Float32Array.from([1, i / 10, 0, 0]),
          updatedAt: '2026-01-01 00:00:00+00',
          version: 1,
        }));
        if (since === '-infinity') return rows;
        if (!stale) return [];
        // A refresh that read the rows before the deletion committed, and hands them over after.
        await new Promise<void>((r) => (release = r));
        return rows;
      },
    };
    const indexes = createTenantIndexes({ items, budgetBytes: 1 << 30 });
    const index = await use(indexes, 't');
    expect(await index.nearest([[1, 0, 0, 0]], 10, new Set())).toHaveLength(10);

    stale = true;
    indexes.itemsChanged('t');
    const refreshing = indexes.indexFor('t', DIM); // waits for the refresh
    await new Promise((r) => setTimeout(r, 10));
    indexes.itemsRemoved('t', [3, 4]);
    release();
    const after = await refreshing;
    const found = await after!.nearest([[1, 0, 0, 0]], 10, new Set());
    expect(found).toHaveLength(8);
    expect(found).not.toContain(3);
    expect(found).not.toContain(4);
  });

  it('partitions a large index after its build, in the background', async () => {
    const outcomes: { tenantId: string; partitions: number; items: number }[] = [];
    const indexes = createTenantIndexes({
      items: itemSource().items,
      budgetBytes: 1 << 30,
      vectorIndex: { partitionFloats: ITEMS * DIM },
      onPartitioned: (tenantId, o) => outcomes.push({ tenantId, partitions: o.partitions, items: o.items }),
    });
    const index = await use(indexes, 'a');
    // A refresh while the partitioning runs joins it: the try is told once.
    indexes.itemsChanged('a');
    await indexes.indexFor('a', DIM);
    for (let i = 0; i < 200 && outcomes.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    expect(outcomes).toEqual([{ tenantId: 'a', partitions: 45, items: ITEMS }]); // about sqrt(2000)
    expect(index.partitions).toBe(45);
    expect(await index.nearest([[0, 1, 0, 0]], 3, new Set())).toHaveLength(3);
  });
});
