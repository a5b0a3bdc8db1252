import { describe, expect, it } from 'vitest';
import { createTenantGate, createTokenBuckets } from '../../src/services/rate-limits.js';

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
