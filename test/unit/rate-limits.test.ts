import { describe, expect, it } from 'vitest';
import { createInProcessBus } from '../../src/events/event-bus.js';
import { createAdmission, createTenantGate, createTokenBuckets, type RateLimitPolicy } from '../../src/services/rate-limits.js';

describe('token buckets', () => {
  it('allow a burst, refill at the rate, and say how long to wait', () => {
    let t = 0;
    const buckets = createTokenBuckets({ perSecond: 10, burst: 3 }, () => t);
    expect([1, 2, 3].map(() => buckets.take('k').ok)).toEqual([true, true, true]);
    expect(buckets.take('k')).toEqual({ ok: false, retryAfterMs: 100 });
    expect(buckets.take('other').ok).toBe(true); // keys are independent
    t = 250; // 2.5 tokens back
    expect([1, 2, 3].map(() => buckets.take('k').ok)).toEqual([true, true, false]);
    t = 10_000; // never more than the burst
    expect([1, 2, 3, 4].map(() => buckets.take('k').ok)).toEqual([true, true, true, false]);
  });

  it('forget full buckets after a while, so memory follows the active keys', () => {
    let t = 0;
    const buckets = createTokenBuckets({ perSecond: 1, burst: 1 }, () => t);
    for (let i = 0; i < 100; i++) buckets.take(`k${i}`);
    expect(buckets.size()).toBe(100);
    t = 61_000;
    buckets.take('fresh');
    expect(buckets.size()).toBe(1);
  });

  it('take what other instances spent, as a debt paid back before the key passes again', () => {
    let t = 0;
    const buckets = createTokenBuckets({ perSecond: 10, burst: 5 }, () => t);
    buckets.absorb('k', 3);
    expect([1, 2, 3].map(() => buckets.take('k').ok)).toEqual([true, true, false]);
    buckets.absorb('k', 12); // 0 - 12
    expect(buckets.take('k')).toEqual({ ok: false, retryAfterMs: 1300 }); // 13 tokens to drip in at 10/s
    t = 1200;
    expect(buckets.take('k').ok).toBe(false);
    t = 1300;
    expect(buckets.take('k').ok).toBe(true);
    buckets.absorb('fresh', 2); // a key this instance has not seen starts full
    expect([1, 2, 3, 4].map(() => buckets.take('fresh').ok)).toEqual([true, true, true, false]);
    for (const junk of [Number.NaN, -4, 0]) buckets.absorb('other', junk);
    expect([1, 2, 3, 4, 5, 6].map(() => buckets.take('other').ok)).toEqual([true, true, true, true, true, false]);
  });

  it('are off at a rate of 0', () => {
    const buckets = createTokenBuckets({ perSecond: 0, burst: 1 });
    expect(Array.from({ length: 1000 }, () => buckets.take('k').ok).every(Boolean)).toBe(true);
  });
});

describe('tenant gate', () => {
  it('runs maxInFlight at once per tenant, queues the rest in order, refuses past the queue', async () => {
    const gate = createTenantGate({ maxInFlight: 2, maxQueued: 2 });
    const order: string[] = [];
    const r1 = await gate.acquire('a');
    const r2 = await gate.acquire('a');
    const w3 = gate.acquire('a').then((release) => (order.push('3'), release));
    const w4 = gate.acquire('a').then((release) => (order.push('4'), release));
    await expect(gate.acquire('a')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    const other = await gate.acquire('b'); // another tenant does not wait behind a
    expect(gate.load('a')).toEqual({ running: 2, queued: 2 });
    r1();
    r1(); // releasing twice frees one place only
    (await w3)();
    r2();
    (await w4)();
    other();
    expect(order).toEqual(['3', '4']);
    expect(gate.load('a')).toEqual({ running: 0, queued: 0 });
  });
});

describe('admission across instances', () => {
  const policy = (shareMs: number): RateLimitPolicy => ({
    perKey: { perSecond: 1, burst: 2 },
    perTenant: { perSecond: 1, burst: 3 },
    gate: { maxInFlight: 0, maxQueued: 0 },
    shareMs,
  });
  const passes = (admission: ReturnType<typeof createAdmission>, tenantId: string, keyId: string) => {
    try {
      admission.charge(tenantId, keyId);
      return true;
    } catch (error) {
      expect(error).toMatchObject({ code: 'RATE_LIMITED' });
      return false;
    }
  };

  it('take what the other instances reported from their own buckets, per key and per tenant', async () => {
    const bus = createInProcessBus();
    const [a, b] = [createAdmission(policy(60_000), bus), createAdmission(policy(60_000), bus)];
    try {
      expect([passes(a, 't', 'k1'), passes(a, 't', 'k1')]).toEqual([true, true]);
      await a.shareUsage();
      expect(passes(a, 't', 'k2')).toBe(true); // its own report does not count twice
      expect(passes(b, 't', 'k1')).toBe(false); // k1's burst of 2 was spent on a
      expect(passes(b, 't', 'k3')).toBe(true); // the tenant's third of 3 (a's third not yet reported)
      await a.shareUsage();
      expect(passes(b, 't', 'k4')).toBe(false); // the tenant's 3 are spent, and more
      expect(passes(b, 'u', 'k5')).toBe(true); // another tenant is not
    } finally {
      a.stop();
      b.stop();
    }
  });

  it('limit each instance on its own when sharing is off', async () => {
    const bus = createInProcessBus();
    const [a, b] = [createAdmission(policy(0), bus), createAdmission(policy(0), bus)];
    expect([passes(a, 't', 'k1'), passes(a, 't', 'k1')]).toEqual([true, true]);
    await a.shareUsage();
    expect([passes(b, 't', 'k1'), passes(b, 't', 'k1')]).toEqual([true, true]);
  });

  it('do not report while the bus is cut off from PostgreSQL: each instance limits on its own', async () => {
    const bus = createInProcessBus();
    let listening = false;
    const cutOff = { ...bus, status: () => ({ listening, downSince: null, reconnects: 0 }) };
    const [a, b] = [createAdmission(policy(60_000), cutOff), createAdmission(policy(60_000), bus)];
    try {
      expect([passes(a, 't', 'k1'), passes(a, 't', 'k1')]).toEqual([true, true]);
      await a.shareUsage();
      listening = true;
      await a.shareUsage(); // what it let through while cut off is not charged to the others later
      expect([passes(b, 't', 'k1'), passes(b, 't', 'k1')]).toEqual([true, true]);
    } finally {
      a.stop();
      b.stop();
    }
  });

  it("ignore what they cannot read in another instance's report", async () => {
    const bus = createInProcessBus();
    const a = createAdmission(policy(60_000), bus);
    try {
      await bus.publish({ type: 'rate-usage', instanceId: 'other', used: [['tenant', 't', Number.NaN], ['everything', 't', 5] as never, ['key', 'k', -1]] });
      await bus.publish({ type: 'rate-usage', instanceId: 'other', used: 'all' as never });
      expect([passes(a, 't', 'k'), passes(a, 't', 'k'), passes(a, 't', 'k')]).toEqual([true, true, false]);
    } finally {
      a.stop();
    }
  });
});
