// Fair sharing between tenants, per API instance. Two mechanisms, because they stop different
// harms: token buckets cap how many operations a key and a tenant may start per second (a
// flood is answered RATE_LIMITED with a retry-after at once, costing almost nothing), and a
// gate bounds how many of a tenant's operations run at the same time (a burst within the
// rate waits in its own tenant's queue instead of taking every database connection and the
// event loop from the others). Reported in issue 10: one tenant's mutation flood had raised
// another tenant's p50 from 13 ms to 1.8 s.
import { AppError } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import { createUsageSharing } from './rate-usage-sharing.js';

export interface BucketPolicy {
  /** Tokens added per second; 0 turns the limit off. */
  perSecond: number;
  /** Most tokens a bucket holds: the burst allowed after a quiet spell. */
  burst: number;
}

export class RateLimitedError extends AppError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super('RATE_LIMITED', message);
  }

  /** Whole seconds to wait, at least 1: what Retry-After and retryAfterSeconds say. */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.retryAfterMs / 1000));
  }
}

export const isRateLimited = (error: unknown): error is RateLimitedError => error instanceof RateLimitedError;

/** Token buckets by key (an API key id, a tenant id), created on first use. */
export function createTokenBuckets(policy: BucketPolicy, now: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let sweptAt = now();

  /** Full buckets carry no information: dropping them bounds memory by active keys. */
  function sweep(t: number) {
    if (t - sweptAt < 60_000) return;
    sweptAt = t;
    for (const [key, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * policy.perSecond >= policy.burst) buckets.delete(key);
  }

  /** The key's bucket with what has dripped in since it was last touched. */
  function refilled(key: string, t: number) {
    sweep(t);
    const b = buckets.get(key) ?? { tokens: policy.burst, at: t };
    b.tokens = Math.min(policy.burst, b.tokens + ((t - b.at) / 1000) * policy.perSecond);
    b.at = t;
    buckets.set(key, b);
    return b;
  }

  return {
    /** Takes `cost` tokens, or answers how long until they would be there. */
    take(key: string, cost = 1): { ok: true } | { ok: false; retryAfterMs: number } {
      if (policy.perSecond <= 0) return { ok: true };
      const b = refilled(key, now());
      if (b.tokens >= cost) {
        b.tokens -= cost;
        return { ok: true };
      }
      return { ok: false, retryAfterMs: Math.ceil(((cost - b.tokens) / policy.perSecond) * 1000) };
    },
    /**
     * Takes tokens that other instances spent on this key, reported after the fact. What they
     * let through before the report arrived may leave a debt, paid back before this key passes
     * again: the debt is only ever operations really let through, so paying all of it back is
     * what gives the key the configured rate over time however its traffic is spread.
     */
    absorb(key: string, used: number): void {
      if (policy.perSecond <= 0 || !(used > 0)) return;
      refilled(key, now()).tokens -= used;
    },
    size: () => buckets.size,
  };
}

export interface GatePolicy {
  /** Operations of one tenant that run at once; 0 turns the gate off. */
  maxInFlight: number;
  /** Operations of one tenant that may wait; beyond, RATE_LIMITED. */
  maxQueued: number;
}

/** At most maxInFlight operations per tenant at once, the rest in that tenant's FIFO queue. */
export function createTenantGate(policy: GatePolicy) {
  const tenants = new Map<string, { running: number; queue: (() => void)[] }>();

  function release(tenantId: string) {
    const t = tenants.get(tenantId)!;
    const next = t.queue.shift();
    if (next) return next(); // the slot passes straight to the next in line
    t.running--;
    if (t.running === 0) tenants.delete(tenantId);
  }

  return {
    /** Resolves with the function that frees the slot; rejects RATE_LIMITED when the queue is full. */
    async acquire(tenantId: string): Promise<() => void> {
      if (policy.maxInFlight <= 0) return () => {};
      let t = tenants.get(tenantId);
      if (!t) tenants.set(tenantId, (t = { running: 0, queue: [] }));
      let released = false;
      const done = () => {
        if (released) return;
        released = true;
        release(tenantId);
      };
      if (t.running < policy.maxInFlight) {
        t.running++;
        return done;
      }
      if (t.queue.length >= policy.maxQueued) {
        throw new RateLimitedError(
          `this tenant already has ${policy.maxInFlight} operations running and ${policy.maxQueued} waiting on this instance; retry shortly`,
          100,
        );
      }
      await new Promise<void>((resolve) => t.queue.push(resolve));
      return done;
    },
    /** Running and waiting operations of a tenant. */
    load: (tenantId: string) => ({ running: tenants.get(tenantId)?.running ?? 0, queued: tenants.get(tenantId)?.queue.length ?? 0 }),
  };
}

export interface RateLimitPolicy {
  perKey: BucketPolicy;
  perTenant: BucketPolicy;
  gate: GatePolicy;
  /**
   * How often (ms) this instance tells the others, through the event bus, what its buckets let
   * through, so that the rates hold across instances; 0 or unset: each instance on its own.
   */
  shareMs?: number;
}

/**
 * The one door every operation passes (HTTP requests, WebSocket operations, live-feed
 * re-rankings): the key's bucket, then the tenant's, then the tenant's gate. The buckets are
 * shared across instances through `bus` when policy.shareMs is set; the gate is this
 * instance's own, since what it guards (database connections, the event loop) is.
 */
export function createAdmission(policy: RateLimitPolicy, bus?: EventBus) {
  const keys = createTokenBuckets(policy.perKey);
  const tenants = createTokenBuckets(policy.perTenant);
  const sharing =
    bus && policy.shareMs
      ? createUsageSharing({ bus, everyMs: policy.shareMs, absorb: (scope, id, used) => (scope === 'key' ? keys : tenants).absorb(id, used) })
      : undefined;
  const gate = createTenantGate(policy.gate);
  // Live-feed re-rankings have a gate of their own: each live feed waits for at most one, so
  // its queue is bounded by the feeds and never refuses (refusing would end them). Half the
  // operations' width: together a tenant holds at most 1.5 x maxInFlight database
  // connections, and the default (4, so 6) leaves others 4 of the pool's 10.
  const rerankGate = createTenantGate({ maxInFlight: Math.ceil(policy.gate.maxInFlight / 2), maxQueued: Number.POSITIVE_INFINITY });

  const limited = (scope: string, bucket: BucketPolicy, retryAfterMs: number) => {
    const error = new RateLimitedError(
      `rate limit of this ${scope} (${bucket.perSecond} operations per second, bursts of ${bucket.burst}) reached`,
      retryAfterMs,
    );
    error.message += `; retry in ${error.retryAfterSeconds} s`;
    return error;
  };

  return {
    /** Counts one operation against the key and its tenant; throws RateLimitedError when either is spent. */
    charge(tenantId: string, keyId: string): void {
      const key = keys.take(keyId);
      if (!key.ok) throw limited('API key', policy.perKey, key.retryAfterMs);
      if (policy.perKey.perSecond > 0) sharing?.used('key', keyId);
      const tenant = tenants.take(tenantId);
      if (!tenant.ok) throw limited('tenant', policy.perTenant, tenant.retryAfterMs);
      if (policy.perTenant.perSecond > 0) sharing?.used('tenant', tenantId);
    },
    /** A place among the tenant's running operations (waits in its queue when they are all taken). */
    enter: (tenantId: string) => gate.acquire(tenantId),
    /** Runs a live feed's re-ranking among at most half of maxInFlight of its tenant's at once. */
    async rerank<T>(tenantId: string, work: () => Promise<T>): Promise<T> {
      const release = await rerankGate.acquire(tenantId);
      try {
        return await work();
      } finally {
        release();
      }
    },
    /** Sends what is not yet reported now (the timer does every shareMs). */
    shareUsage: () => sharing?.share() ?? Promise.resolve(),
    /** Stops reporting and listening to other instances' reports. */
    stop: () => sharing?.stop(),
  };
}

export type AdmissionControl = ReturnType<typeof createAdmission>;
