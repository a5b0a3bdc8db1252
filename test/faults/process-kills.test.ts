// Processes killed under load: the inference worker (scoring degrades to the fallback, no
// request fails) and the API itself during idempotent batches (retried on a new process:
// nothing lost, nothing doubled, checked row by row).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, expectedEvents, storedEvents, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeItems, type TestTenant } from '../helpers/factories.js';
import { startProcess, type StartedProcess } from '../helpers/processes.js';
import { addVersion } from '../helpers/worker.js';

const NO_RATES = { RATE_LIMIT_KEY_PER_SECOND: '0', RATE_LIMIT_TENANT_PER_SECOND: '0' };

async function post(url: string, key: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

describe('processes killed under load', () => {
  let db: TestDatabase;
  let a: TestTenant;
  const started: StartedProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('faults_kills');
    a = await createTestTenant(db.adminUrl, 8); // the fixture model's dimension
  });
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await db?.drop();
  });

  it('a worker killed under scoring load: answers turn degraded, none fails', async () => {
    const store = mkdtempSync(join(tmpdir(), 'tg-faults-store-'));
    addVersion(store, 1);
    const worker = await startProcess('worker', { MODEL_STORE: store, MODEL_POLL_MS: '0' });
    started.push(worker);
    const api = await startProcess('api', {
      DATABASE_URL: db.appUrl,
      DATABASE_ADMIN_URL: db.adminUrl,
      WORKER_URLS: worker.url,
      SCORING_TIMEOUT_MS: '500',
      ...NO_RATES,
    });
    started.push(api);
    const items = makeItems(20, 8);
    await post(api.url, a.appKey, `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`, { items });
    await post(api.url, a.appKey, `mutation($e: [InteractionInput!]!) { recordInteractions(events: $e) { count } }`, {
      e: [0, 1, 2].map((i) => ({ userId: 'scored', itemId: `item-${i}`, kind: 'LIKE' })),
    });

    const answers: { degraded: boolean; reason: string | null; errors?: unknown }[] = [];
    let stop = false;
    const load = async () => {
      while (!stop) {
        const r = await post(api.url, a.appKey, `query($ids: [ID!]!) { rank(userId: "scored", itemIds: $ids) { degraded degradedReason items { rank } } }`, {
          ids: items.slice(3).map((i) => i.id),
        });
        answers.push({ degraded: r.data?.rank?.degraded, reason: r.data?.rank?.degradedReason, errors: r.errors });
      }
    };
    const loops = Promise.all([load(), load(), load(), load()]);
    while (answers.length < 50) await new Promise((res) => setTimeout(res, 10));
    worker.child.kill('SIGKILL');
    const killedAt = answers.length;
    while (answers.length < killedAt + 50) await new Promise((res) => setTimeout(res, 10));
    stop = true;
    await loops;

    expect(answers.filter((x) => x.errors)).toEqual([]);
    expect(answers.slice(0, 40).every((x) => x.degraded === false)).toBe(true);
    const after = answers.slice(killedAt + 10);
    expect(after.every((x) => x.degraded === true)).toBe(true);
    expect(after.some((x) => /refused|lost|did not answer in time/.test(x.reason ?? ''))).toBe(true);
    expect(api.child.exitCode).toBeNull();
  });

  it('the API killed during idempotent batches: retried on a new process, every event stored exactly once', async () => {
    const env = { DATABASE_URL: db.appUrl, DATABASE_ADMIN_URL: db.adminUrl, WORKER_URLS: '', ...NO_RATES };
    let api = await startProcess('api', env);
    started.push(api);
    await post(api.url, a.appKey, `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`, { items: makeItems(20, 8, 'k') });
    const batches = Array.from({ length: 60 }, (_, b) =>
      Array.from({ length: 50 }, (_, i) => ({
        userId: `killed-${b % 9}`,
        itemId: `k-${(b + i) % 20}`,
        kind: (b + i) % 4 ? 'LIKE' : 'DISLIKE',
        eventId: `kill-${b}-${i}`,
      })),
    );
    const acked = new Set<number>();
    const send = async (b: number) => {
      try {
        const r = await post(api.url, a.appKey, `mutation($e: [InteractionInput!]!) { recordInteractions(events: $e) { count } }`, { e: batches[b] });
        if (r.data?.recordInteractions?.count === batches[b].length) acked.add(b);
      } catch {
        // the process died with this request in flight: not acknowledged, so retried below
      }
    };
    let next = 0;
    const sender = async () => {
      while (next < batches.length) await send(next++);
    };
    const senders = Promise.all([sender(), sender(), sender()]);
    while (acked.size < 15) await new Promise((res) => setTimeout(res, 5));
    api.child.kill('SIGKILL');
    await senders;
    expect(acked.size).toBeLessThan(batches.length); // the kill cut some batches off

    api = await startProcess('api', env);
    started.push(api);
    for (let b = 0; b < batches.length; b++) if (!acked.has(b)) await send(b);
    expect(acked.size).toBe(batches.length);

    expect(await storedEvents(db.adminUrl, 'kill-')).toEqual(expectedEvents(batches.flat()));
  });
});
