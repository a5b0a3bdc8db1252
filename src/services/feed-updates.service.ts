// Live feeds: which event re-ranks whose feed, and how. One live feed per (tenant, user),
// shared by every subscription to that user on this instance: N subscribers cost one
// ranking, not N. After the user's own likes, a new model or a gap in the event stream the
// feed is ranked again from scratch; after new items only those items are scored and merged
// into the ranking it has, so the cost of an upsertItems grows with its items and the
// subscribed users, not with the candidate pool times the subscribers. Events within
// coalesceMs are answered by one ranking, and rankings take their turn in the tenant's gate.
import { AppError } from '../errors.js';
import type { EventBus, PlatformEvent } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import type { Feed, FeedService, FeedState } from './feed.service.js';
import type { AdmissionControl } from './rate-limits.js';
import type { Viewer } from './viewer.js';

export type FeedUpdateReason = 'INITIAL' | 'INTERACTION' | 'NEW_ITEMS' | 'ITEMS_REMOVED' | 'MODEL' | 'RESYNC';

/** The reasons a ranking answers, most specific first: the one a subscriber is told. */
export const REASON_ORDER = ['INTERACTION', 'ITEMS_REMOVED', 'NEW_ITEMS', 'MODEL', 'RESYNC'] as const;

export interface FeedUpdatesOptions {
  feed: Pick<FeedService, 'rank' | 'mergeItems' | 'itemRows'>;
  bus: EventBus;
  admission: Pick<AdmissionControl, 'rerank'>;
  /** Wait this long after an event for more before ranking again. */
  coalesceMs: number;
  log: Logger;
  /** A ranking failed in the background (it is retried); for a metric. */
  onError?: (error: unknown) => void;
}

export interface LiveFeedSubscription {
  /** The feed now: the shared ranking if it is current, else a new one. */
  initial: Promise<Feed>;
  close(): void;
}

type Deliver = (feed: Feed, reasons: ReadonlySet<FeedUpdateReason>) => void;
/** Ends one subscription from outside, with the error its client is sent. */
type End = (error: Error) => void;

interface LiveFeed {
  tenantId: string;
  userId: string;
  /** Any subscriber's viewer: a ranking depends only on the tenant. */
  viewer: Viewer;
  /**
   * Each subscriber with its page size (the state keeps the best max(first) entries) and how
   * to end it from outside (its user was erased, its tenant deleted).
   */
  subscribers: Map<Deliver, { first: number; end?: End }>;
  state?: FeedState;
  /** Reasons seen since the last ranking; a full one means ranking again from scratch. */
  pending: Set<FeedUpdateReason>;
  newItems: Set<number>;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  /** The first ranking while it runs: subscribers who join meanwhile wait for it too. */
  first?: Promise<FeedState>;
  /** The page size that ranking was made for. */
  firstKeeps?: number;
  failures: number;
}

const RETRY_MAX_MS = 10_000;

const keep = (entry: LiveFeed) => Math.max(1, ...[...entry.subscribers.values()].map((s) => s.first));

/**
 * Keeps the best n entries. A live feed shows its subscribers' first pages only, and merging
 * new items into the best n gives the same best n as merging into all. The embeddings alone of
 * 500 entries of 512 dimensions are 1 MB per live feed (500 x 512 x 4 bytes), of 20 entries
 * 40 kB; measured in bench:soak at dimension 32, keeping 10 instead of 500 entries per feed
 * took RSS from about 1 GB to 780 MB per API process.
 */
function trim(state: FeedState, n: number): FeedState {
  if (state.feed.entries.length <= n) return state;
  return { ...state, feed: { ...state.feed, entries: state.feed.entries.slice(0, n), truncated: true } };
}

/** Whether a kept state can answer a page of `first` entries. */
const answers = (state: FeedState, first: number) => !state.feed.truncated || state.feed.entries.length >= first;

export function createFeedUpdatesService(o: FeedUpdatesOptions) {
  const live = new Map<string, LiveFeed>();
  // The same feeds by tenant: an upsertItems visits its own tenant's feeds, not every one.
  const byTenant = new Map<string, Set<LiveFeed>>();
  const keyOf = (tenantId: string, userId: string) => `${tenantId}\u0000${userId}`;

  function mark(entry: LiveFeed, reason: FeedUpdateReason, itemIds?: readonly number[]) {
    entry.pending.add(reason);
    for (const id of itemIds ?? []) entry.newItems.add(id);
    schedule(entry, o.coalesceMs);
  }

  function schedule(entry: LiveFeed, delayMs: number) {
    if (entry.timer || entry.running) return; // the running ranking reschedules when it ends
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.running = update(entry).finally(() => {
        entry.running = undefined;
        if (entry.pending.size > 0 && live.get(keyOf(entry.tenantId, entry.userId)) === entry) schedule(entry, o.coalesceMs);
      });
    }, delayMs);
  }

  async function update(entry: LiveFeed): Promise<void> {
    const reasons = new Set(entry.pending);
    const itemIds = [...entry.newItems];
    entry.pending.clear();
    entry.newItems.clear();
    const onlyNewItems = reasons.size === 1 && reasons.has('NEW_ITEMS') && entry.state !== undefined;
    try {
      const next = await o.admission.rerank(entry.tenantId, async () => {
        // Items changed in place could fall below entries no longer kept: those rank again.
        const changesShown = () => {
          const changed = new Set(itemIds);
          return entry.state!.feed.entries.some((e) => changed.has(e.item.id));
        };
        if (onlyNewItems && !changesShown()) {
          const rows = await o.feed.itemRows(entry.tenantId, itemIds);
          const merged = await o.feed.mergeItems(entry.viewer, entry.state!, rows);
          if (merged) return merged;
        }
        return o.feed.rank(entry.viewer, entry.userId);
      });
      entry.failures = 0;
      entry.state = trim(next, keep(entry));
      for (const deliver of entry.subscribers.keys()) deliver(entry.state.feed, reasons);
    } catch (error) {
      // Kept pending and tried again with backoff: a database outage must not end live feeds.
      for (const r of reasons) entry.pending.add(r);
      for (const id of itemIds) entry.newItems.add(id);
      entry.failures++;
      o.onError?.(error);
      const retryMs = Math.min(RETRY_MAX_MS, 100 * 2 ** entry.failures);
      o.log.warn({ err: error, tenantId: entry.tenantId, attempt: entry.failures, retryMs }, 're-ranking a live feed failed; trying again');
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        schedule(entry, 0);
      }, retryMs);
    }
  }

  function onEvent(event: PlatformEvent) {
    switch (event.type) {
      case 'interactions-recorded':
        for (const userId of event.userIds) {
          const entry = live.get(keyOf(event.tenantId, userId));
          if (entry) mark(entry, 'INTERACTION');
        }
        return;
      case 'items-upserted':
        for (const entry of byTenant.get(event.tenantId) ?? []) mark(entry, 'NEW_ITEMS', event.itemIds);
        return;
      case 'items-deleted':
        // Any of the tenant's users may have shown them or had them in their history.
        for (const entry of byTenant.get(event.tenantId) ?? []) mark(entry, 'ITEMS_REMOVED');
        return;
      case 'user-erased': {
        const entry = live.get(keyOf(event.tenantId, event.userId));
        if (entry) endAll([entry], new AppError('NOT_FOUND', `user "${event.userId}" was erased (deleteUser); this feed has ended`));
        return;
      }
      case 'tenant-deleted':
        endAll([...(byTenant.get(event.tenantId) ?? [])], new AppError('UNAUTHENTICATED', 'this tenant was deleted; its feeds have ended'));
        return;
      case 'bus-resynced':
        for (const entry of live.values()) mark(entry, 'RESYNC');
        return;
      default:
        return;
    }
  }
  o.bus.subscribe(onEvent);

  /** Ends every subscriber of these live feeds (each end closes its subscription, and the last closes the feed). */
  function endAll(entries: readonly LiveFeed[], error: Error) {
    for (const entry of entries) for (const { end } of [...entry.subscribers.values()]) end?.(error);
  }

  return {
    /**
     * Joins (or opens) the user's live feed; `deliver` receives each new ranking, of at least
     * `first` entries when the feed has them.
     */
    subscribe(viewer: Viewer, userId: string, first: number, deliver: Deliver, end?: End): LiveFeedSubscription {
      const key = keyOf(viewer.tenantId, userId);
      let entry = live.get(key);
      if (!entry) {
        entry = { tenantId: viewer.tenantId, userId, viewer, subscribers: new Map(), pending: new Set(), newItems: new Set(), failures: 0 };
        live.set(key, entry);
        if (!byTenant.has(viewer.tenantId)) byTenant.set(viewer.tenantId, new Set());
        byTenant.get(viewer.tenantId)!.add(entry);
      }
      const joined = entry;
      joined.subscribers.set(deliver, { first, end });
      const current = joined.state && joined.pending.size === 0 && !joined.running && answers(joined.state, first) ? joined.state : undefined;
      if (!current && !(joined.first && joined.firstKeeps! >= first)) {
        const ranking = o.admission.rerank(viewer.tenantId, () => o.feed.rank(viewer, userId));
        joined.first = ranking;
        joined.firstKeeps = first;
        ranking
          .then(
            (state) => {
              // Unless a later ranking already landed that answers everyone.
              if (!joined.state || !answers(joined.state, keep(joined))) joined.state = trim(state, keep(joined));
            },
            () => {},
          )
          .finally(() => {
            if (joined.first === ranking) joined.first = undefined;
          });
      }
      const initial = current ? Promise.resolve(current.feed) : joined.first!.then((state) => state.feed);
      return {
        initial,
        close() {
          joined.subscribers.delete(deliver);
          if (joined.subscribers.size > 0 || live.get(key) !== joined) return;
          clearTimeout(joined.timer);
          joined.pending.clear();
          live.delete(key);
          const tenantFeeds = byTenant.get(joined.tenantId);
          tenantFeeds?.delete(joined);
          if (tenantFeeds?.size === 0) byTenant.delete(joined.tenantId);
        },
      };
    },

    /**
     * A new model serves a tenant (or, with none given, the shipped base model serves anew):
     * its live feeds rank again. Called once this instance scores with it, not on the event
     * itself, so the ranking that follows is the new model's.
     */
    modelChanged(tenantId?: string): void {
      for (const entry of tenantId ? (byTenant.get(tenantId) ?? []) : live.values()) mark(entry, 'MODEL');
    },

    /** Live feeds (distinct users) and their subscribers on this instance. */
    stats() {
      let subscribers = 0;
      for (const entry of live.values()) subscribers += entry.subscribers.size;
      return { feeds: live.size, subscribers };
    },
  };
}

export type FeedUpdatesService = ReturnType<typeof createFeedUpdatesService>;
