// Rate limits that hold across API instances, with no round trip on the request path: each
// instance admits from its own token buckets and, every `everyMs`, reports on the event bus how
// many operations it let through per API key and per tenant since its last report; every other
// instance takes those from its own buckets (`absorb`). Over time a key or tenant spread over N
// instances gets the configured rate. What the instances let through before the reports
// arrive (once up to a burst on each, then about the rate times the report delay) leaves a
// debt that is paid back before the key passes again.
// While the bus is down (or a report's NOTIFY fails, which the bus logs), each instance limits
// on its own, as before sharing existed: looser for a while, never a request refused or held
// up for want of the database (tastegraph_event_bus_listening says when).
import { randomUUID } from 'node:crypto';
import type { EventBus } from '../events/event-bus.js';

export type RateScope = 'key' | 'tenant';

export interface UsageSharingOptions {
  bus: EventBus;
  everyMs: number;
  /** Takes what another instance let through from this instance's bucket. */
  absorb: (scope: RateScope, id: string, used: number) => void;
}

export function createUsageSharing(o: UsageSharingOptions) {
  // Every instance, the sender included, receives each report: its own are told by this id.
  const instanceId = randomUUID();
  let pending = new Map<string, [RateScope, string, number]>();

  const unsubscribe = o.bus.subscribe((event) => {
    if (event.type !== 'rate-usage' || event.instanceId === instanceId || !Array.isArray(event.used)) return;
    for (const [scope, id, used] of event.used) {
      // A report from another release (a rolling deploy) may carry what this one cannot read.
      if ((scope === 'key' || scope === 'tenant') && typeof id === 'string' && Number.isFinite(used) && used > 0) o.absorb(scope, id, used);
    }
  });

  async function share(): Promise<void> {
    if (pending.size === 0) return;
    const used = [...pending.values()];
    pending = new Map();
    // Without its listening connection this instance is cut off from PostgreSQL: a NOTIFY would
    // most likely fail and be logged four times a second. What it let through meanwhile is not
    // reported later either, which would charge the others for the past.
    if (!o.bus.status().listening) return;
    await o.bus.publish({ type: 'rate-usage', instanceId, used });
  }

  const timer = setInterval(() => void share(), o.everyMs);
  timer.unref();

  return {
    /** Counts one operation this instance let through, for the next report. */
    used(scope: RateScope, id: string): void {
      const key = `${scope}:${id}`;
      const entry = pending.get(key);
      if (entry) entry[2]++;
      else pending.set(key, [scope, id, 1]);
    },
    share,
    stop(): void {
      clearInterval(timer);
      unsubscribe();
    },
  };
}
