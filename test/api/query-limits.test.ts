// The same limits on both transports: document size, tokens and aliases before parsing goes
// far, then depth and cost with the operation's variables; the same codes over HTTP and WebSocket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeItems, type TestTenant } from '../helpers/factories.js';
import { connectWs, runOn } from '../helpers/ws.js';

const ITEMS_PAGE = `query($n: Int!) { items(first: $n) { edges { node { externalId prompt url createdAt } } } }`;

describe('query limits on HTTP and WebSocket alike', () => {
  let db: TestDatabase;
  let api: TestApi;
  let a: TestTenant;

  beforeAll(async () => {
    db = await createTestDatabase('api_query_limits');
    api = await startTestApi(db.appUrl, { maxQueryCost: 1000 });
    a = await createTestTenant(db.adminUrl, 4);
    await api.gql(a.appKey, `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`, { items: makeItems(3, 4) });
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  /** The first error's code and message, over HTTP and over a WebSocket. */
  async function both(query: string, variables?: Record<string, unknown>) {
    const http = await api.gql(a.appKey, query, variables);
    const client = connectWs(api.wsUrl, a.appKey);
    try {
      const ws = await runOn(client, query, variables);
      return { http, ws };
    } finally {
      await client.dispose();
    }
  }

  it('counts page sizes given in variables on both transports', async () => {
    const { http, ws } = await both(ITEMS_PAGE, { n: 500 });
    expect(http.errors![0].extensions!.code).toBe('QUERY_TOO_COSTLY');
    expect(ws.errors![0].extensions.code).toBe('QUERY_TOO_COSTLY');
    expect(ws.errors![0].message).toBe(http.errors![0].message);
    const small = await both(ITEMS_PAGE, { n: 2 });
    expect(small.http.data.items.edges).toHaveLength(2);
    expect(small.ws.data.items.edges).toHaveLength(2);
  });

  it('counts id lists given in variables on both transports', async () => {
    const ids = Array.from({ length: 200 }, (_, i) => `item-${i}`);
    const { http, ws } = await both(`query($ids: [ID!]!) { score(userId: "u", itemIds: $ids) { items { score item { externalId } } } }`, { ids });
    expect(http.errors![0].extensions!.code).toBe('QUERY_TOO_COSTLY');
    expect(ws.errors![0].extensions.code).toBe('QUERY_TOO_COSTLY');
  });

  it('answers syntax and validation errors with the codes HTTP gives', async () => {
    const syntax = await both(`{ items { `);
    expect(syntax.http.errors![0].extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(syntax.ws.errors![0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    const invalid = await both(`{ nope }`);
    expect(invalid.http.errors![0].extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(invalid.ws.errors![0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const deep = await both(
      `{ user(externalId: "u") { history { edges { node { user { history { edges { node { user { history { pageInfo { hasNextPage } } } } } } } } } } } }`,
    );
    expect(deep.http.errors![0].extensions!.code).toBe('QUERY_TOO_DEEP');
    expect(deep.ws.errors![0].extensions.code).toBe('QUERY_TOO_DEEP');
  });

  it('refuses a document of 400,000 aliases by its size, before parsing it', async () => {
    const aliases = Array.from({ length: 400_000 }, (_, i) => `a${i}: __typename`).join(' ');
    const { http, ws } = await both(`{ ${aliases} }`);
    for (const error of [http.errors![0], ws.errors![0]]) {
      expect(error.extensions!.code).toBe('QUERY_TOO_LARGE');
      expect(error.message).toMatch(/bytes; the limit is 1048576 \(MAX_QUERY_BYTES\)/);
    }
    expect(http.status).toBe(400);
  });

  it('refuses too many tokens, too many aliases, too many fields', async () => {
    const tokens = await both(`{ items(first: 1) { edges { node { ${'externalId '.repeat(60_000)} } } } }`);
    expect(tokens.http.errors![0].message).toMatch(/more than 50000 tokens/);
    expect(tokens.ws.errors![0].message).toMatch(/more than 50000 tokens/);
    const calls = Array.from({ length: 101 }, (_, i) => `s${i}: __typename`).join(' ');
    const aliases = await both(`{ ${calls} }`);
    expect(aliases.http.errors![0]).toMatchObject({
      extensions: { code: 'QUERY_TOO_LARGE' },
      message: 'query has more than 100 aliased fields (MAX_QUERY_ALIASES)',
    });
    expect(aliases.ws.errors![0]).toMatchObject({
      extensions: { code: 'QUERY_TOO_LARGE' },
      message: 'query has more than 100 aliased fields (MAX_QUERY_ALIASES)',
    });
    // Fragments count as what they expand to: 4 spreads of 4 spreads of 200 fields.
    const fields = Array.from({ length: 200 }, () => 'externalId').join(' ');
    const fanned = `{ items(first: 1) { edges { node { ...B ...B ...B ...B } } } } fragment B on Item { ...C ...C ...C ...C } fragment C on Item { ${fields} }`;
    const expanded = await both(fanned);
    expect(expanded.http.errors![0].message).toMatch(/more than 2000 fields, fragments expanded/);
    expect(expanded.ws.errors![0].message).toMatch(/more than 2000 fields, fragments expanded/);
  });

  it('charges aliased model calls their weight: 60 one-item scores are refused as too costly', async () => {
    const calls = (n: number) => Array.from({ length: n }, (_, i) => `s${i}: score(userId: "u", itemIds: ["item-1"]) { degraded }`).join(' ');
    const big = await startTestApi(db.appUrl);
    try {
      const r = await big.gql(a.appKey, `{ ${calls(60)} }`);
      expect(r.errors![0].extensions!.code).toBe('QUERY_TOO_COSTLY');
      const few = await big.gql(a.appKey, `{ ${calls(3)} }`);
      expect(few.errors).toBeUndefined();
    } finally {
      await big.stop();
    }
  });
});
