// PostgreSQL restarted under write load and under a live feed, on a cluster of the test's own:
// the API process lives through it, every acknowledged write is stored exactly once, and the
// live feed goes on (re-ranked on reconnect, pushed the next like).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCluster, type TestCluster } from '../helpers/cluster.js';
import { expectedEvents, storedEvents } from '../helpers/database.js';
import { createTestTenant, makeItems, type TestTenant } from '../helpers/factories.js';
import { startProcess, type StartedProcess } from '../helpers/processes.js';
import { subscribeFeed } from '../helpers/ws.js';

const RECORD = `mutation($events: [InteractionInput!]!) { recordInteractions(events: $events) { count } }`;

describe('PostgreSQL restarted under load', () => {
  let cluster: TestCluster;
  let api: StartedProcess;
  let a: TestTenant;

  async function gql(query: string, variables: Record<string, unknown>) {
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.appKey}` },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Sends a batch until it is acknowledged; counts the attempts the outage refused. */
  async function untilStored(events: object[], refused: { n: number; codes: Set<string> }) {
    for (let attempt = 0; attempt < 200; attempt++) {
      try {
        const r = await gql(RECORD, { events });
        if (r.body.data?.recordInteractions?.count === events.length) return;
        refused.codes.add(String(r.body.errors?.[0]?.extensions?.code));
      } catch {
        refused.codes.add('network');
      }
      refused.n++;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('batch never stored');
  }

  beforeAll(async () => {
    cluster = await createTestCluster('restart');
    a = await createTestTenant(cluster.adminUrl, 4);
    api = await startProcess('api', {
      DATABASE_URL: cluster.appUrl,
      DATABASE_ADMIN_URL: cluster.adminUrl,
      WORKER_URLS: '',
      RATE_LIMIT_KEY_PER_SECOND: '0',
      RATE_LIMIT_TENANT_PER_SECOND: '0',
    });
    const items = await gql(`mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`, { items: makeItems(20, 4) });
    expect(items.body.errors).toBeUndefined();
  });
  afterAll(async () => {
    await api?.stop();
    await cluster?.drop();
  });

  it('every write acknowledged around a restart is stored once, and the API process lives', async () => {
    const batches = Array.from({ length: 40 }, (_, b) =>
      Array.from({ length: 25 }, (_, i) => ({
        userId: `w-${b % 7}`,
        itemId: `item-${(b * 25 + i) % 20}`,
        kind: i % 3 ? 'LIKE' : 'DISLIKE',
        eventId: `restart-${b}-${i}`,
      })),
    );
    const refused = { n: 0, codes: new Set<string>() };
    let next = 0;
    const writer = async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        await untilStored(batch, refused);
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    const writers = Promise.all([writer(), writer()]);
    while (next < 10) await new Promise((res) => setTimeout(res, 10));
    await cluster.restart();
    await writers;

    expect(api.child.exitCode).toBeNull();
    expect(refused.n).toBeGreaterThan(0); // the restart was felt
    expect(
      [...refused.codes].every((c) => c === 'UNAVAILABLE' || c === 'network'),
      [...refused.codes].join(),
    ).toBe(true);
    expect(await storedEvents(cluster.adminUrl, 'restart-')).toEqual(expectedEvents(batches.flat()));
    expect((await fetch(api.url.replace('/graphql', '/health/ready'))).status).toBe(200);
  });

  it('a live feed lives through a restart: re-ranked when events flow again, then pushed the next like', async () => {
    const feed = subscribeFeed(api.url.replace(/^http/, 'ws'), a.appKey, 'through-restart');
    try {
      expect((await feed.next(30_000)).reason).toBe('INITIAL');
      await cluster.restart();
      expect((await feed.next(30_000)).reason).toBe('RESYNC');
      const like = await gql(RECORD, { events: [{ userId: 'through-restart', itemId: 'item-3', kind: 'LIKE' }] });
      expect(like.body.errors).toBeUndefined();
      const pushed = await feed.next(30_000);
      expect(pushed.reason).toBe('INTERACTION');
      expect(pushed.ids).not.toContain('item-3');
    } finally {
      await feed.client.dispose();
    }
  });
});
