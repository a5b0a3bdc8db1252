// Each tenant's vector index, kept in this process's memory within a budget: feeds draw the
// items nearest a user's likes from it, and feeds and score queries the vectors they hand the
// model (services/item-vectors.ts). An index is built from PostgreSQL on first use (in the
// background: 100,000 items take seconds) and refreshed from the items changed since; past
// the budget, the tenants used least recently lose their index and rebuild it on their next
// use. Without a budget every tenant ever served stayed in memory (100,000 items of dimension
// 512 are 200 MB), in every API instance. It lives in services/, not ranking/, because it reads
// PostgreSQL (through the item repository) and holds state; ranking/ stays pure.
import type { ItemRepository } from '../repositories/item.repository.js';
import { createVectorIndex, type PartitioningOutcome, type VectorIndex, type VectorIndexOptions } from '../ranking/vector-index.js';

export interface TenantIndexesOptions {
  items: Pick<ItemRepository, 'changedSince'>;
  /** Bytes all tenants' indexes may take together; the index in use is never evicted. */
  budgetBytes: number;
  /** How each index scans and when it partitions itself (createVectorIndex); omitted: exact, in one piece. */
  vectorIndex?: Omit<VectorIndexOptions, 'onPartitioned'>;
  onEvict?: (tenantId: string, bytes: number) => void;
  /** The index tried partitioning: kept (partitions > 0) or declined (0, scanned exactly). */
  onPartitioned?: (tenantId: string, outcome: PartitioningOutcome) => void;
  /**
   * A refresh from PostgreSQL failed (it is retried by the next feed of that tenant), or the
   * partitioning after one did (retried after the next refresh; the items it had not filed yet
   * are scanned whole meanwhile).
   */
  onRefreshFailed?: (tenantId: string, error: unknown) => void;
}

interface TenantIndex {
  index: VectorIndex;
  /** The newest change in the index (timestamptz text); later ones are not in it yet. */
  watermark: string;
  stale: boolean;
  /** The first full build has finished. */
  built: boolean;
  /**
   * Items deleted while this index lived: a refresh that read one before its deletion
   * committed must not put it back. Ids are never reused, so the set only grows, by the
   * items deleted (8 bytes each), until the index is dropped.
   */
  removed: Set<number>;
  refreshing?: Promise<void>;
}

// Items committed by a slower transaction can carry an updated_at a little older than the
// newest one already seen; re-reading this window catches them (upserts are idempotent).
const OVERLAP_SECONDS = 5;
const REFRESH_PAGE = 5000;

export function createTenantIndexes(o: TenantIndexesOptions) {
  // A Map iterates in insertion order; each use re-inserts its tenant, so the first entries
  // are the least recently used.
  const indexes = new Map<string, TenantIndex>();

  async function refresh(tenantId: string, entry: TenantIndex): Promise<void> {
    let since = entry.watermark;
    let afterId = 0;
    let overlap = OVERLAP_SECONDS;
    for (;;) {
      const rows = await o.items.changedSince(tenantId, since, afterId, overlap, REFRESH_PAGE);
      for (const r of rows) if (!entry.removed.has(r.id)) entry.index.upsert(r.id, r.embedding, r.version);
      const last = rows.at(-1);
      if (!last) break;
      entry.watermark = last.updatedAt;
      if (rows.length < REFRESH_PAGE) break;
      since = last.updatedAt;
      afterId = last.id;
      overlap = 0;
    }
  }

  function totalBytes(): number {
    let total = 0;
    for (const entry of indexes.values()) total += entry.index.bytes;
    return total;
  }

  /** Drops least recently used indexes (never `keep`) until all fit in the budget. */
  function evictOverBudget(keep: string): void {
    let total = totalBytes();
    for (const [tenantId, entry] of indexes) {
      if (total <= o.budgetBytes) break;
      if (tenantId === keep) continue;
      // A build still running writes into the dropped object, which is then collected.
      indexes.delete(tenantId);
      entry.index.close();
      total -= entry.index.bytes;
      o.onEvict?.(tenantId, entry.index.bytes);
    }
  }

  function refreshInBackground(tenantId: string, entry: TenantIndex): Promise<void> {
    entry.stale = false; // changes from now on mark it stale again, for the refresh after this one
    return (async () => {
      try {
        await refresh(tenantId, entry);
        entry.built = true;
        // Partitions a large index, or files what was written since (seconds at 500,000 items,
        // in steps of about a millisecond); feeds meanwhile scan the items not filed yet whole.
        // The index tells onPartitioned of each try itself.
        entry.index.maintain().catch((error) => o.onRefreshFailed?.(tenantId, error));
      } catch (error) {
        entry.stale = true; // the next feed tries again
        o.onRefreshFailed?.(tenantId, error);
        throw error;
      } finally {
        evictOverBudget(tenantId); // it has grown: make room by dropping others
      }
    })().finally(() => (entry.refreshing = undefined));
  }

  return {
    /**
     * The tenant's index, or undefined until its first build has finished: feeds meanwhile
     * draw on the newest items alone. Later refreshes read only the changes and are awaited,
     * so new items show in the next feed.
     */
    async indexFor(tenantId: string, dim: number): Promise<VectorIndex | undefined> {
      let entry = indexes.get(tenantId);
      indexes.delete(tenantId);
      if (!entry)
        entry = {
          index: createVectorIndex(dim, { ...o.vectorIndex, onPartitioned: (outcome) => o.onPartitioned?.(tenantId, outcome) }),
          watermark: '-infinity',
          stale: true,
          built: false,
          removed: new Set(),
        };
      indexes.set(tenantId, entry); // now the most recently used
      if (entry.stale) entry.refreshing ??= refreshInBackground(tenantId, entry);
      if (!entry.built) {
        // A failed first build was reported (onRefreshFailed) and is retried by the next feed;
        // nobody awaits it, so it must not become an unhandled rejection.
        entry.refreshing?.catch(() => {});
        return undefined; // a half-built index would miss items at random
      }
      if (entry.refreshing) await entry.refreshing;
      return entry.index;
    },

    /** New or changed items: the tenant's index refreshes on its next use. */
    itemsChanged(tenantId: string): void {
      const entry = indexes.get(tenantId);
      if (entry) entry.stale = true;
    },

    /** Deleted items leave the tenant's index now (a refresh reads only changes, never deletions). */
    itemsRemoved(tenantId: string, itemIds: readonly number[]): void {
      const entry = indexes.get(tenantId);
      if (!entry) return;
      for (const id of itemIds) {
        entry.removed.add(id);
        entry.index.remove(id);
      }
    },

    /**
     * Changes may have been missed (the event stream had a gap): every index is dropped and
     * built again on its tenant's next feed, since a missed deletion is not in any refresh.
     */
    dropAll(): void {
      for (const entry of indexes.values()) entry.index.close();
      indexes.clear();
    },

    /** The tenant was deleted: its index goes. */
    drop(tenantId: string): void {
      indexes.get(tenantId)?.index.close();
      indexes.delete(tenantId);
    },

    /** Tenants with an index in memory, least recently used first, and the bytes they take. */
    held(): { tenants: string[]; bytes: number } {
      return { tenants: [...indexes.keys()], bytes: totalBytes() };
    },
  };
}

export type TenantIndexes = ReturnType<typeof createTenantIndexes>;
