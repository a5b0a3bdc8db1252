// feedUpdated over graphql-ws: the adapter between a subscription and the user's live feed
// (services/feed-updates.service.ts decides when and how feeds re-rank, shared by every
// subscriber of the user). Here: the per-connection, per-tenant and per-key limits, and
// back-pressure: a consumer whose socket holds more than maxBufferedBytes unsent gets no new
// ranking until it catches up, then only the newest. A push stream (services/push-stream.ts)
// rather than an async generator so that a client going away (return()) leaves its live feed
// at once, even while no ranking is due.
import { AppError } from '../errors.js';
import type { Feed } from '../services/feed.service.js';
import { REASON_ORDER, type FeedUpdateReason, type FeedUpdatesService } from '../services/feed-updates.service.js';
import { DONE, pushStream } from '../services/push-stream.js';
import type { Viewer } from '../services/viewer.js';

export type { FeedUpdateReason };

export interface FeedUpdate {
  reason: FeedUpdateReason;
  feed: Feed;
}

export interface SubscriptionLimits {
  perConnection: number;
  perTenant: number;
  /** Across all connections of one API key (an app backend relays many users' feeds over one key). */
  perKey: number;
  /** A consumer with more than this many bytes unsent gets no new ranking until it catches up. */
  maxBufferedBytes: number;
}

/** Counts open subscriptions per tenant and per API key in this instance. */
export function createSubscriptionCounter() {
  const perTenant = new Map<string, number>();
  const perKey = new Map<string, number>();
  const bump = (map: Map<string, number>, key: string, delta: number) => {
    const n = (map.get(key) ?? 0) + delta;
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  };
  return {
    open: (tenantId: string) => perTenant.get(tenantId) ?? 0,
    openForKey: (keyId: string) => perKey.get(keyId) ?? 0,
    add: (viewer: Viewer, delta: number) => {
      bump(perTenant, viewer.tenantId, delta);
      bump(perKey, viewer.keyId, delta);
    },
    total: () => [...perTenant.values()].reduce((a, b) => a + b, 0),
  };
}

export type SubscriptionCounter = ReturnType<typeof createSubscriptionCounter>;

/** One WebSocket connection's subscriptions: how many, its unsent bytes, and a way to end them all. */
export interface ConnectionSubscriptions {
  readonly open: number;
  bufferedAmount(): number;
  /** Registers a subscription's end; returns the function that unregisters it. */
  track(end: (error: Error) => void): () => void;
  /** Ends every open subscription with this error (the key was revoked). */
  endAll(error: Error): void;
}

export function createConnectionSubscriptions(bufferedAmount: () => number): ConnectionSubscriptions {
  const ends = new Set<(error: Error) => void>();
  return {
    get open() {
      return ends.size;
    },
    bufferedAmount,
    track(end) {
      ends.add(end);
      return () => ends.delete(end);
    },
    endAll(error) {
      for (const end of [...ends]) end(error);
    },
  };
}

export interface FeedSubscriptionArgs {
  viewer: Viewer;
  userId: string;
  /** The page size asked: the live feed keeps at least this many entries. */
  first: number;
  live: Pick<FeedUpdatesService, 'subscribe'>;
  limits: SubscriptionLimits;
  counter: SubscriptionCounter;
  /** The connection's own state: open subscriptions and the socket's unsent bytes. */
  connection: ConnectionSubscriptions;
}

export function feedUpdates(a: FeedSubscriptionArgs): AsyncIterableIterator<FeedUpdate> {
  if (a.connection.open >= a.limits.perConnection) {
    throw new AppError('RATE_LIMITED', `at most ${a.limits.perConnection} subscriptions per connection (SUBSCRIPTIONS_PER_CONNECTION)`);
  }
  if (a.counter.open(a.viewer.tenantId) >= a.limits.perTenant) {
    throw new AppError('RATE_LIMITED', `at most ${a.limits.perTenant} feed subscriptions per tenant on this instance`);
  }
  if (a.counter.openForKey(a.viewer.keyId) >= a.limits.perKey) {
    throw new AppError('RATE_LIMITED', `at most ${a.limits.perKey} feed subscriptions per API key on this instance (SUBSCRIPTIONS_PER_KEY)`);
  }
  a.counter.add(a.viewer, 1);

  const reasons = new Set<FeedUpdateReason>();
  let latest: Feed | undefined;
  let wake: (() => void) | undefined;
  let closed = false;
  let first = true;
  // Set when the subscription is ended from outside (its key was revoked, its user erased): next() throws it,
  // and graphql-ws sends it to the client as this subscription's error.
  let failure: Error | undefined;
  const subscription = a.live.subscribe(
    a.viewer,
    a.userId,
    a.first,
    (feed, why) => {
      latest = feed; // a consumer that is behind skips to the newest ranking
      for (const r of why) reasons.add(r);
      wake?.();
    },
    // Its user was erased or its tenant deleted (on any instance).
    (error) => {
      failure = error;
      close();
    },
  );
  const close = () => {
    if (closed) return;
    closed = true;
    subscription.close();
    untrack();
    a.counter.add(a.viewer, -1);
    wake?.();
  };
  const untrack = a.connection.track((error) => {
    failure = error;
    close();
  });
  const ended = () => {
    if (failure) throw failure;
    return DONE;
  };

  return pushStream<FeedUpdate>(async () => {
    if (closed) return ended();
    if (first) {
      first = false;
      try {
        return { done: false, value: { reason: 'INITIAL', feed: await subscription.initial } };
      } catch (error) {
        close();
        throw error;
      }
    }
    while (!closed && (!latest || a.connection.bufferedAmount() > a.limits.maxBufferedBytes)) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        // A slow consumer is polled for progress; rankings meanwhile only replace `latest`.
        if (latest) setTimeout(resolve, 50);
      });
      wake = undefined;
    }
    if (closed) return ended();
    const feed = latest!;
    const reason = REASON_ORDER.find((r) => reasons.has(r)) ?? 'RESYNC';
    latest = undefined;
    reasons.clear();
    return { done: false, value: { reason, feed } };
  }, close);
}
