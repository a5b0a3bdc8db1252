// A revoked API key loses access on WebSockets it had opened before, on every API instance:
// its next operation is refused, and its live subscriptions end with a clear error.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresBus } from '../../src/events/event-bus.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { createTestDatabase, queryAsOwner, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeItems, type TestTenant } from '../helpers/factories.js';
import { connectWs, runOn, subscribeFeed } from '../helpers/ws.js';

const CREATE_KEY = `mutation { createApiKey(name: "minted", role: ADMIN) { key apiKey { id } } }`;

describe('revoking a key with open WebSockets', () => {
  let db: TestDatabase;
  let one: TestApi;
  let two: TestApi;
  let a: TestTenant;

  beforeAll(async () => {
    db = await createTestDatabase('api_revoke');
    const log = pino({ level: 'silent' });
    // Two instances joined by LISTEN/NOTIFY, as in production.
    one = await startTestApi(db.appUrl, { bus: await createPostgresBus(db.appUrl, log) });
    two = await startTestApi(db.appUrl, { bus: await createPostgresBus(db.appUrl, log) });
    a = await createTestTenant(db.adminUrl, 4);
    await one.gql(a.appKey, `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`, { items: makeItems(5, 4) });
  });
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    await db?.drop();
  });

  async function newAdminKey(): Promise<{ key: string; id: string }> {
    const r = await one.gql(a.adminKey, `mutation { createApiKey(name: "doomed", role: ADMIN) { key apiKey { id } } }`);
    return { key: r.data.createApiKey.key, id: r.data.createApiKey.apiKey.id };
  }

  it('refuses queries and mutations on the open socket from the moment of revocation, on another instance', async () => {
    const doomed = await newAdminKey();
    const client = connectWs(two.wsUrl, doomed.key);
    try {
      const before = await runOn(client, `{ tenant { slug } }`);
      expect(before.data.tenant.slug).toBe(a.slug);

      const revoked = await one.gql(a.adminKey, `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: doomed.id });
      expect(revoked.data.revokeApiKey.revokedAt).toBeTruthy();

      // At once, on the socket that instance two had authenticated before the revocation.
      const minted = await runOn(client, CREATE_KEY);
      expect(minted.data).toBeUndefined();
      expect(minted.errors![0].extensions.code).toBe('UNAUTHENTICATED');
      expect(minted.errors![0].message).toMatch(/revoked/);
      const read = await runOn(client, `{ tenant { slug } }`);
      expect(read.errors![0].extensions.code).toBe('UNAUTHENTICATED');
      const keys = await queryAsOwner<{ n: number }>(db.adminUrl, `SELECT count(*)::int AS n FROM api_keys WHERE name = 'minted'`);
      expect(keys[0].n).toBe(0);
    } finally {
      await client.dispose();
    }
  });

  it("ends the key's live subscriptions on every instance with an UNAUTHENTICATED error", async () => {
    const doomed = await newAdminKey();
    const onTwo = subscribeFeed(two.wsUrl, doomed.key, 'watcher');
    const onOne = subscribeFeed(one.wsUrl, doomed.key, 'watcher');
    const survivor = subscribeFeed(two.wsUrl, a.appKey, 'watcher');
    try {
      expect((await onTwo.next()).reason).toBe('INITIAL');
      expect((await onOne.next()).reason).toBe('INITIAL');
      expect((await survivor.next()).reason).toBe('INITIAL');
      await one.gql(a.adminKey, `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: doomed.id });
      await Promise.all([onTwo.done, onOne.done]);
      for (const s of [onTwo, onOne]) {
        const errors = s.failure() as { message: string; extensions: { code: string } }[];
        expect(errors[0].extensions.code).toBe('UNAUTHENTICATED');
        expect(errors[0].message).toMatch(/revoked/);
      }
      await waitFor(() => two.openSubscriptions() === 1 && one.openSubscriptions() === 0);
      // Another key's subscription to the same user goes on.
      await one.gql(a.appKey, `mutation { recordInteraction(event: { userId: "watcher", itemId: "item-1", kind: LIKE }) { id } }`);
      expect((await survivor.next()).reason).toBe('INTERACTION');
    } finally {
      await Promise.all([onTwo.client.dispose(), onOne.client.dispose(), survivor.client.dispose()]);
    }
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
