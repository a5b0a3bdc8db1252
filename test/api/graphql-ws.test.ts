// graphql-ws on the same port and path as HTTP, authenticated on connection_init.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeItems, type TestTenant } from '../helpers/factories.js';

function connect(api: TestApi, authorization?: string): { client: Client; closed: Promise<{ code: number; reason: string }> } {
  let onClosed: (event: { code: number; reason: string }) => void = () => {};
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (onClosed = resolve));
  const client = createClient({
    url: api.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: authorization ? { authorization } : {},
    on: { closed: (event) => onClosed(event as { code: number; reason: string }) },
  });
  return { client, closed };
}

function run(client: Client, query: string): Promise<any> {
  return new Promise((resolve, reject) => {
    let result: unknown;
    client.subscribe({ query }, { next: (value) => (result = value), error: reject, complete: () => resolve(result) });
  });
}

describe('GraphQL over WebSocket (graphql-ws)', () => {
  let db: TestDatabase;
  let api: TestApi;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    db = await createTestDatabase('api_ws');
    api = await startTestApi(db.appUrl);
    a = await createTestTenant(db.adminUrl, 4);
    b = await createTestTenant(db.adminUrl, 4);
    await api.gql(a.appKey, `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`, { items: makeItems(3, 4) });
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it('runs operations for the tenant of the key given in connection_init', async () => {
    const { client } = connect(api, `Bearer ${a.appKey}`);
    try {
      const result = await run(client, `{ item(externalId: "item-1") { externalId } }`);
      expect(result.data.item.externalId).toBe('item-1');
    } finally {
      await client.dispose();
    }
  });

  it("answers NOT_FOUND for another tenant's ids", async () => {
    const { client } = connect(api, `Bearer ${b.appKey}`);
    try {
      const result = await run(client, `{ item(externalId: "item-1") { externalId } }`);
      expect(result.errors[0].extensions.code).toBe('NOT_FOUND');
    } finally {
      await client.dispose();
    }
  });

  it('closes the connection with 4403 when the key is missing or wrong', async () => {
    for (const authorization of [undefined, 'Bearer nope']) {
      const { client, closed } = connect(api, authorization);
      expect((await closed).code).toBe(4403);
      await client.dispose();
    }
  });

  it('applies the cost limit to WebSocket operations too', async () => {
    const { client } = connect(api, `Bearer ${a.appKey}`);
    try {
      const costly = `{ items(first: 500) { edges { node { externalId } } } user(externalId: "u") { history(first: 500) { edges { node { user { history(first: 500) { edges { node { kind } } } } } } } } }`;
      await expect(run(client, costly)).rejects.toEqual([
        expect.objectContaining({ message: expect.stringMatching(/^query cost \d+ exceeds the limit of 50000/) }),
      ]);
    } finally {
      await client.dispose();
    }
  });

  it('applies the depth limit to WebSocket operations too', async () => {
    const { client } = connect(api, `Bearer ${a.appKey}`);
    try {
      const deep = `{ user(externalId: "u") { history { edges { node { user { history { edges { node { user { history { edges { node { kind } } } } } } } } } } } } }`;
      await expect(run(client, deep)).rejects.toEqual(expect.arrayContaining([expect.objectContaining({ message: 'query depth 13 exceeds the limit of 10' })]));
    } finally {
      await client.dispose();
    }
  });
});
