// Rate-limit reports between instances through PostgreSQL's NOTIFY: a report about more keys
// than one notification holds (8,000 bytes) arrives whole, in slices, and every key it names
// is spent on the other instance.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresBus, type EventBus } from '../../src/events/event-bus.js';
import { createAdmission, type RateLimitPolicy } from '../../src/services/rate-limits.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

const POLICY: RateLimitPolicy = {
  perKey: { perSecond: 1, burst: 1 },
  perTenant: { perSecond: 0, burst: 1 },
  gate: { maxInFlight: 0, maxQueued: 0 },
  shareMs: 60_000, // reported by hand below
};

describe('rate-limit reports over LISTEN/NOTIFY', () => {
  let db: TestDatabase;
  const buses: EventBus[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('rate_usage_bus');
    const log = pino({ level: 'silent' });
    buses.push(await createPostgresBus(db.appUrl, log), await createPostgresBus(db.appUrl, log));
  });
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await db?.drop();
  });

  it('a report about 400 keys (about 19 KB) reaches the other instance whole', async () => {
    const [one, two] = buses.map((bus) => createAdmission(POLICY, bus));
    try {
      const keys = Array.from({ length: 400 }, () => randomUUID());
      for (const key of keys) one.charge('tenant', key);
      let heard = 0;
      const allHeard = new Promise<void>((resolve) =>
        buses[1].subscribe((event) => {
          if (event.type === 'rate-usage' && (heard += event.used.length) === keys.length) resolve();
        }),
      );
      await one.shareUsage();
      await allHeard;
      for (const key of keys) expect(() => two.charge('tenant', key)).toThrow(/rate limit of this API key/);
    } finally {
      one.stop();
      two.stop();
    }
  });
});
