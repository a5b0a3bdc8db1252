// HTTP details an operator or a client library relies on (issue 15): a 401 names its scheme,
// a 405 names the methods allowed, and /metrics counts WebSocket operations, open sockets and
// subscriptions, and the database pool.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeItems, type TestTenant } from '../helpers/factories.js';
import { connectWs, runOn, subscribeFeed } from '../helpers/ws.js';

describe('HTTP details', () => {
  let db: TestDatabase;
  let api: TestApi;
  let a: TestTenant;
  const metricsText = async () => (await fetch(api.url.replace('/graphql', '/metrics'))).text();
  const sample = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  beforeAll(async () => {
    db = await createTestDatabase('api_http_details');
    api = await startTestApi(db.appUrl);
    a = await createTestTenant(db.adminUrl, 4);
    await api.gql(a.appKey, `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`, { items: makeItems(3, 4) });
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it('a 401 carries WWW-Authenticate: Bearer, with invalid_token when a key was sent', async () => {
    const post = (authorization?: string) =>
      fetch(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ query: '{ tenant { name } }' }),
      });
    const missing = await post();
    expect([missing.status, missing.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="tastegraph"']);
    const wrong = await post('Bearer not-a-key');
    expect([wrong.status, wrong.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="tastegraph", error="invalid_token"']);
  });

  it('a 405 carries Allow', async () => {
    const put = await fetch(api.url, { method: 'PUT', headers: { authorization: `Bearer ${a.appKey}`, 'content-type': 'application/json' }, body: '{}' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toMatch(/GET, POST/);
    // A mutation over GET: GraphQL over HTTP says 405, and only POST can carry it.
    const query = encodeURIComponent('mutation { createApiKey(name: "x") { key } }');
    const get = await fetch(`${api.url}?query=${query}`, { headers: { authorization: `Bearer ${a.adminKey}`, 'apollo-require-preflight': 'true' } });
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
  });

  it('/metrics counts WebSocket operations by type and outcome, open sockets and subscriptions, and the pool', async () => {
    const client = connectWs(api.wsUrl, a.appKey);
    const live = subscribeFeed(api.wsUrl, a.appKey, 'metrics-user');
    try {
      expect((await runOn(client, '{ items(first: 2) { edges { node { externalId } } } }')).errors).toBeUndefined();
      expect((await runOn(client, '{ nope }')).errors?.[0]).toBeDefined();
      expect((await runOn(client, 'mutation { createApiKey(name: "x") { key } }')).errors?.[0].extensions.code).toBe('FORBIDDEN');
      await live.next();
      const text = await metricsText();
      expect(sample(text, 'tastegraph_websocket_operations_total{type="query",outcome="ok"}')).toBe(1);
      expect(sample(text, 'tastegraph_websocket_operations_total{type="unknown",outcome="GRAPHQL_VALIDATION_FAILED"}')).toBe(1);
      expect(sample(text, 'tastegraph_websocket_operations_total{type="mutation",outcome="FORBIDDEN"}')).toBe(1);
      expect(sample(text, 'tastegraph_websocket_operations_total{type="subscription",outcome="ok"}')).toBe(1);
      expect(sample(text, 'tastegraph_websocket_connections')).toBe(2);
      expect(sample(text, 'tastegraph_subscriptions_open')).toBe(1);
      const open = sample(text, 'tastegraph_database_pool_connections{state="open"}')!;
      expect(open).toBeGreaterThan(0);
      expect(open).toBeLessThanOrEqual(8);
      expect(sample(text, 'tastegraph_database_pool_connections{state="waiting"}')).toBe(0);
      expect(sample(text, 'tastegraph_database_pool_connections{state="in_use"}')).toBeGreaterThanOrEqual(0);
    } finally {
      await live.client.dispose();
      await client.dispose();
    }
    // Closed sockets and ended subscriptions leave the gauges.
    for (let i = 0; i < 50 && sample(await metricsText(), 'tastegraph_websocket_connections') !== 0; i++) await new Promise((r) => setTimeout(r, 20));
    const after = await metricsText();
    expect([sample(after, 'tastegraph_websocket_connections'), sample(after, 'tastegraph_subscriptions_open')]).toEqual([0, 0]);
  });
});
