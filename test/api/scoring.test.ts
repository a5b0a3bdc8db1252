// score and rank over GraphQL: the user's history from PostgreSQL, the model through a real
// worker over HTTP (or in process), one batch per request, and the degraded fallback.
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelRegistry } from '../../src/inference/model-registry.js';
import { createModelStore } from '../../src/inference/model-store.js';
import { createTenantModels } from '../../src/inference/tenant-models.js';
import { createInProcessScorer } from '../../src/inference/scorer.js';
import { createWorkerClient } from '../../src/inference/worker-client.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, type TestTenant } from '../helpers/factories.js';
import { sessionRuns, startTestWorker, type TestWorker } from '../helpers/worker.js';

const DIM = 8; // the fixture model's
const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`;
const RECORD = `mutation($events: [InteractionInput!]!) { recordInteractions(events: $events) { count } }`;
const RANK = `query($u: ID!, $ids: [ID!]!) { rank(userId: $u, itemIds: $ids) { userId degraded degradedReason modelVersion items { rank score item { externalId } } } }`;
const SCORE = `query($u: ID!, $ids: [ID!]!) { score(userId: $u, itemIds: $ids) { degraded modelVersion items { rank score item { externalId } } } }`;

// Items along two directions: "warm" ones near +e0, "cold" ones near -e0.
const item = (id: string, sign: number, k: number) => ({ id, embedding: Array.from({ length: DIM }, (_, d) => (d === 0 ? sign : 0.1 * Math.sin(k + d))) });
const ITEMS = [...Array.from({ length: 10 }, (_, k) => item(`warm-${k}`, 1, k)), ...Array.from({ length: 10 }, (_, k) => item(`cold-${k}`, -1, k))];
const IDS = ITEMS.map((i) => i.id);

describe('score and rank', () => {
  let db: TestDatabase;
  let worker: TestWorker;
  let api: TestApi;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    db = await createTestDatabase('api_scoring');
    worker = await startTestWorker({ maxQueueDelayMs: 5 });
    api = await startTestApi(db.appUrl, { scorer: createWorkerClient({ urls: [worker.url], retries: 1 }) });
    a = await createTestTenant(db.adminUrl, DIM);
    b = await createTestTenant(db.adminUrl, DIM);
    for (const t of [a, b]) expect((await api.gql(t.appKey, UPSERT, { items: ITEMS })).errors).toBeUndefined();
    // fan likes warm items, dislikes cold ones.
    const events = [0, 1, 2, 3].flatMap((k) => [
      { userId: 'fan', itemId: `warm-${k}`, kind: 'LIKE' },
      { userId: 'fan', itemId: `cold-${k}`, kind: 'DISLIKE' },
    ]);
    expect((await api.gql(a.appKey, RECORD, { events })).errors).toBeUndefined();
  });
  afterAll(async () => {
    await api?.stop();
    await worker?.stop();
    await db?.drop();
  });

  it('ranks with the model: every asked item once, best first, ranks 1..n', async () => {
    const r = await api.gql(a.appKey, RANK, { u: 'fan', ids: IDS });
    expect(r.errors).toBeUndefined();
    const rank = r.data.rank;
    expect(rank).toMatchObject({ userId: 'fan', degraded: false, degradedReason: null, modelVersion: 'base-1' });
    expect(rank.items.map((i: any) => i.rank)).toEqual(IDS.map((_, i) => i + 1));
    expect(new Set(rank.items.map((i: any) => i.item.externalId))).toEqual(new Set(IDS));
    const scores = rank.items.map((i: any) => i.score);
    expect(scores).toEqual([...scores].sort((x: number, y: number) => y - x));
    expect(scores.every((s: number) => s > 0 && s < 1)).toBe(true);
  });

  it('score keeps the order asked, with the same scores as rank', async () => {
    const ids = ['cold-5', 'warm-7', 'warm-1'];
    const [s, r] = await Promise.all([api.gql(a.appKey, SCORE, { u: 'fan', ids }), api.gql(a.appKey, RANK, { u: 'fan', ids })]);
    expect(s.data.score.items.map((i: any) => i.item.externalId)).toEqual(ids);
    const byId = new Map(r.data.rank.items.map((i: any) => [i.item.externalId, i.score]));
    for (const i of s.data.score.items) expect(i.score).toBeCloseTo(byId.get(i.item.externalId) as number, 6);
  });

  it('batches every score field of one request into one model run', async () => {
    const before = await sessionRuns(worker);
    const r = await api.gql(
      a.appKey,
      `{ x: score(userId: "fan", itemIds: ["warm-1", "cold-1"]) { modelVersion }
      y: score(userId: "someone-new", itemIds: ["warm-2"]) { modelVersion } z: rank(userId: "fan", itemIds: ["cold-3"]) { modelVersion } }`,
    );
    expect(r.errors).toBeUndefined();
    expect((await sessionRuns(worker)) - before).toBe(1);
  });

  it('rejects more than 500 candidates and names unknown or foreign items', async () => {
    const many = await api.gql(a.appKey, SCORE, { u: 'fan', ids: Array.from({ length: 501 }, (_, i) => `x${i}`) });
    expect(many.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    expect(many.errors![0].message).toMatch(/^score: 1 invalid\. itemIds: expected 1 to 500 item ids, got 501/); // a read: nothing to say about storing
    const rank = await api.gql(a.appKey, RANK, { u: '', ids: ['warm-1'] });
    expect(rank.errors![0].message).toBe('rank: 1 invalid. userId: expected a non-empty id, got ""'); // the field asked
    await api.gql(b.appKey, UPSERT, { items: [item('only-b', 1, 0)] });
    const foreign = await api.gql(a.appKey, SCORE, { u: 'fan', ids: ['warm-1', 'only-b'] });
    expect(foreign.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', problems: [{ index: 1, field: 'itemIds[1]' }] });
    const twice = await api.gql(a.appKey, SCORE, { u: 'fan', ids: ['warm-1', 'warm-2', 'warm-1'] });
    expect(twice.errors![0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      problems: [{ index: 2, field: 'itemIds[2]', message: '"warm-1" is already itemIds[0]' }],
    });
  });

  it("another tenant's user is a new user here: scored cold, never with that tenant's history", async () => {
    const cold = await api.gql(b.appKey, SCORE, { u: 'fan', ids: ['warm-0', 'cold-0'] });
    const unknown = await api.gql(b.appKey, SCORE, { u: 'nobody-at-all', ids: ['warm-0', 'cold-0'] });
    expect(cold.data.score.items.map((i: any) => i.score)).toEqual(unknown.data.score.items.map((i: any) => i.score));
    // Scored by the model with no history (one masked slot), not by the fallback.
    expect(unknown.data.score).toMatchObject({ degraded: false, modelVersion: 'base-1' });
  });

  it('falls back to the history centroid, marked degraded, when no worker answers', async () => {
    const down = await startTestApi(db.appUrl, { scorer: createWorkerClient({ urls: ['http://127.0.0.1:1'], retries: 1 }) });
    try {
      const r = await down.gql(a.appKey, RANK, { u: 'fan', ids: ['cold-6', 'warm-6', 'cold-7', 'warm-7'] });
      expect(r.data.rank).toMatchObject({
        degraded: true,
        modelVersion: null,
        degradedReason: 'no inference worker accepted a connection (refused): is one running at WORKER_URLS?',
      });
      // The fallback still personalises: fan's liked direction comes first.
      expect(
        r.data.rank.items
          .slice(0, 2)
          .map((i: any) => i.item.externalId)
          .sort(),
      ).toEqual(['warm-6', 'warm-7']);
    } finally {
      await down.stop();
    }
  });

  it('says the worker timed out, not refused, when it accepts connections and never answers', async () => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => void sockets.add(socket)); // reads nothing, answers nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    const slow = await startTestApi(db.appUrl, { scorer: createWorkerClient({ urls: [`http://127.0.0.1:${port}`], retries: 0 }) });
    try {
      const r = await slow.gql(a.appKey, RANK, { u: 'fan', ids: ['cold-6', 'warm-6'] });
      expect(r.data.rank).toMatchObject({ degraded: true, degradedReason: 'the inference worker did not answer in time' });
    } finally {
      await slow.stop();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('falls back, saying what to do, when a tenant without a model of its own has another dimension than the base model', async () => {
    const other = await createTestTenant(db.adminUrl, 4);
    await api.gql(other.appKey, UPSERT, { items: [{ id: 'p', embedding: [1, 0, 0, 0] }] });
    const r = await api.gql(other.appKey, `query($u: ID!, $ids: [ID!]!) { score(userId: $u, itemIds: $ids) { degraded degradedReason modelVersion } }`, {
      u: 'u',
      ids: ['p'],
    });
    expect(r.data.score).toMatchObject({ degraded: true, modelVersion: null });
    expect(r.data.score.degradedReason).toBe(
      'no model for this tenant yet: it trains when it has 50 users with at least 2 likes and 2 dislikes each, and 20 more held out to evaluate it ' +
        "(the nightly run at 03:00 UTC, or startTraining now); meanwhile the shipped base model takes item vectors of dimension 8, and this tenant's are 4",
    );
    expect(r.errors).toBeUndefined();
  });

  it('counts operations, model scores and fallbacks at /metrics, on the API and on the worker', async () => {
    const apiMetrics = await (await fetch(api.url.replace('/graphql', '/metrics'))).text();
    expect(apiMetrics).toMatch(/tastegraph_graphql_operations_total\{type="query",outcome="ok"\} \d+/);
    expect(apiMetrics).toMatch(/tastegraph_scored_users_total\{outcome="model"\} [1-9]/);
    expect(apiMetrics).toMatch(/tastegraph_graphql_operation_seconds_bucket/);
    const workerMetrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(workerMetrics).toMatch(/tastegraph_worker_requests_total\{endpoint="infer",status="200"\} [1-9]/);
    expect(workerMetrics).toMatch(/tastegraph_worker_batch_rows_count [1-9]/);
    expect(workerMetrics).toMatch(/tastegraph_worker_queue_rows 0/);
    expect(workerMetrics).toMatch(/tastegraph_worker_model_info\{model="preference",version="1"\} 1/);
    expect(workerMetrics).toMatch(/tastegraph_worker_request_seconds_bucket/);
  });

  it('scores in process through the same interface (the embedded default)', async () => {
    const registry = await createModelRegistry({
      storeDir: worker.store,
      modelName: 'preference',
      provider: 'cpu',
      pollMs: 0,
      versionsKept: 2,
      log: pino({ level: 'silent' }),
      batching: { maxBatchSize: 64, maxQueueDelayMs: 1, maxQueueSize: 100 },
    });
    const local = await startTestApi(db.appUrl, {
      scorer: createInProcessScorer(
        createModelStore(
          registry,
          createTenantModels({
            storeDir: worker.tenantStore,
            provider: 'cpu',
            budgetBytes: 1 << 30,
            log: pino({ level: 'silent' }),
            batching: { maxBatchSize: 64, maxQueueDelayMs: 1, maxQueueSize: 100 },
          }),
        ),
      ),
    });
    try {
      const [remote, inProcess] = await Promise.all([api.gql(a.appKey, RANK, { u: 'fan', ids: IDS }), local.gql(a.appKey, RANK, { u: 'fan', ids: IDS })]);
      expect(inProcess.data.rank.degraded).toBe(false);
      expect(inProcess.data.rank.items.map((i: any) => i.item.externalId)).toEqual(remote.data.rank.items.map((i: any) => i.item.externalId));
    } finally {
      await local.stop();
      await registry.close();
    }
  });
});
