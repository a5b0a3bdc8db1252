// Deletions seen by every API instance: two API processes on one PostgreSQL (events through
// LISTEN/NOTIFY). A deleted item leaves both instances' feeds and live feeds; an erased user's
// live feed ends on the other instance; `npm run tenant:delete` removes every row, job and
// artifact of a tenant, ends its live feeds and leaves the other tenant as it was.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantModelName } from '../../src/inference/model-names.js';
import { JOB_SCHEMA } from '../../src/repositories/job-queue-schema.js';
import { QUEUES } from '../../src/jobs/queues.js';
import { appArgs } from '../helpers/build.js';
import { createTestDatabase, queryAsOwner, tableCounts, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, type TestTenant } from '../helpers/factories.js';
import { startProcess, type StartedProcess } from '../helpers/processes.js';
import { subscribeFeed } from '../helpers/ws.js';

const run = promisify(execFile);
const DIM = 4;
const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`;
const RECORD = `mutation($events: [InteractionInput!]!) { recordInteractions(events: $events) { count } }`;
const FEED = `query($u: ID!) { feed(userId: $u, first: 100) { edges { node { item { externalId } } } } }`;
// Two clusters: items near the user's like come first, through the vector index.
const ITEMS = Array.from({ length: 30 }, (_, k) => ({ id: `i-${k}`, embedding: [k % 2 ? 1 : 0.1, k % 2 ? 0.1 : 1, 0.01 * k, 0.3] }));

describe('deletions across two API processes', () => {
  let db: TestDatabase;
  let a: TestTenant;
  let b: TestTenant;
  let store: string;
  const processes: StartedProcess[] = [];
  let urlA: string;
  let urlB: string;

  const gql = async (url: string, key: string, query: string, variables: object) => {
    const body = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    }).then((r) => r.json());
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    return body.data;
  };
  const feedIds = async (url: string, user: string) => (await gql(url, a.appKey, FEED, { u: user })).feed.edges.map((e: any) => e.node.item.externalId);

  beforeAll(async () => {
    db = await createTestDatabase('lifecycle_two');
    a = await createTestTenant(db.adminUrl, DIM);
    b = await createTestTenant(db.adminUrl, DIM);
    store = mkdtempSync(join(tmpdir(), 'tg-tenant-store-'));
    const env = { DATABASE_URL: db.appUrl, DATABASE_ADMIN_URL: db.adminUrl, WORKER_URLS: '', TENANT_MODEL_STORE: store };
    const started = await Promise.all([startProcess('api', env), startProcess('api', env)]);
    processes.push(...started);
    [urlA, urlB] = started.map((p) => p.url);
    await gql(urlA, a.appKey, UPSERT, { items: ITEMS });
    await gql(urlA, b.appKey, UPSERT, { items: ITEMS });
    await gql(urlA, a.appKey, RECORD, {
      events: [
        { userId: 'viewer', itemId: 'i-1', kind: 'LIKE' },
        { userId: 'viewer', itemId: 'i-2', kind: 'DISLIKE' },
      ],
    });
    await gql(urlA, b.appKey, RECORD, { events: [{ userId: 'viewer', itemId: 'i-1', kind: 'LIKE' }] });
  }, 180_000);
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await db?.drop();
  });

  it('a deleted item leaves the feeds of both instances and the live feed on the other one', async () => {
    // Both instances have built the tenant's vector index (a feed asks for it) before the deletion.
    for (const url of [urlA, urlB]) await feedIds(url, 'viewer');
    await new Promise((r) => setTimeout(r, 500));
    for (const url of [urlA, urlB]) expect(await feedIds(url, 'viewer')).toContain('i-3');
    const live = subscribeFeed(urlB.replace(/^http/, 'ws'), a.appKey, 'viewer');
    try {
      expect((await live.next()).ids).toContain('i-3');
      await gql(urlA, a.appKey, `mutation { deleteItems(ids: ["i-3", "i-5"]) { count } }`, {});
      const update = await live.next(10_000);
      expect(update.reason).toBe('ITEMS_REMOVED');
      expect(update.ids).not.toContain('i-3');
      expect(update.ids).not.toContain('i-5');
      for (const url of [urlA, urlB]) {
        const ids = await feedIds(url, 'viewer');
        expect(ids).not.toContain('i-3');
        expect(ids).toHaveLength(ITEMS.length - 4); // 30 less the 2 rated and the 2 deleted
      }
      // The other tenant's items of the same ids are untouched.
      expect((await gql(urlB, b.appKey, FEED, { u: 'viewer' })).feed.edges.map((e: any) => e.node.item.externalId)).toContain('i-3');
    } finally {
      await live.client.dispose();
    }
  });

  it("an erased user's live feed on the other instance ends, saying why", async () => {
    await gql(urlA, a.appKey, RECORD, { events: [{ userId: 'leaver', itemId: 'i-7', kind: 'LIKE' }] });
    const live = subscribeFeed(urlB.replace(/^http/, 'ws'), a.appKey, 'leaver');
    expect((await live.next()).reason).toBe('INITIAL');
    await gql(urlA, a.appKey, `mutation { deleteUser(userId: "leaver") { erased } }`, {});
    await Promise.race([live.done, new Promise((_, reject) => setTimeout(() => reject(new Error('the live feed did not end')), 10_000))]);
    expect((live.failure() as object[])[0]).toMatchObject({
      message: 'user "leaver" was erased (deleteUser); this feed has ended',
      extensions: { code: 'NOT_FOUND' },
    });
  });

  it('tenant:delete without --yes changes nothing; with it, removes every row, job and artifact of the tenant and ends its live feeds', async () => {
    // A queued job and a model artifact folder of the tenant, as training leaves them.
    const boss = new PgBoss({ connectionString: db.adminUrl, schema: JOB_SCHEMA, supervise: false, schedule: false, migrate: false });
    await boss.start();
    await boss.createQueue(QUEUES.TASTE_GROUPS).catch(() => {});
    await boss.send(QUEUES.TASTE_GROUPS, { tenantId: a.id, trigger: 'SCHEDULE' });
    await boss.send(QUEUES.TASTE_GROUPS, { tenantId: b.id, trigger: 'SCHEDULE' });
    await boss.stop({ graceful: false });
    const artifacts = join(store, tenantModelName(a.id), '1');
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(join(artifacts, 'model.onnx'), 'not really a model');

    const cli = (args: string[]) =>
      run(process.execPath, [...appArgs('tenant-delete'), ...args], {
        env: { ...process.env, DATABASE_ADMIN_URL: db.adminUrl, TENANT_MODEL_STORE: store },
      }).then(
        (r) => ({ code: 0, out: r.stdout }),
        (e) => ({ code: e.code as number, out: `${e.stdout}${e.stderr}` }),
      );
    const slug = (await queryAsOwner<{ slug: string }>(db.adminUrl, 'SELECT slug FROM tenants WHERE id = $1', [a.id]))[0].slug;
    const jobs = async (tenantId: string) =>
      (await queryAsOwner<{ n: number }>(db.adminUrl, `SELECT count(*)::int AS n FROM ${JOB_SCHEMA}.job WHERE data->>'tenantId' = $1`, [tenantId]))[0].n;

    const before = await tableCounts(db.adminUrl);
    const dry = await cli(['--slug', slug]);
    expect(dry.code).toBe(2);
    expect(dry.out).toContain('dry run: nothing deleted');
    expect(dry.out).toMatch(/would remove\s+\d+ rows of interactions/);
    expect(await tableCounts(db.adminUrl)).toEqual(before);
    expect(await jobs(a.id)).toBe(1);

    const live = subscribeFeed(urlB.replace(/^http/, 'ws'), a.appKey, 'viewer');
    expect((await live.next()).reason).toBe('INITIAL');
    const done = await cli(['--slug', slug, '--yes']);
    expect(done.code, done.out).toBe(0);
    const interactions = (await queryAsOwner<{ n: number }>(db.adminUrl, 'SELECT count(*)::int AS n FROM interactions WHERE tenant_id = $1', [b.id]))[0].n;
    expect(done.out).toMatch(/removed\s+1 rows of jobs|removed\s+1 jobs/);
    expect(done.out).toContain(`model artifacts: ${join(store, tenantModelName(a.id))}`);

    // Nothing of the tenant anywhere: every table with a tenant column, from the catalog.
    const tables = await queryAsOwner<{ table_name: string }>(
      db.adminUrl,
      `SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id'`,
    );
    for (const { table_name } of tables) {
      const [{ n }] = await queryAsOwner<{ n: number }>(db.adminUrl, `SELECT count(*)::int AS n FROM "${table_name}" WHERE tenant_id = $1`, [a.id]);
      expect(n, table_name).toBe(0);
    }
    expect(await queryAsOwner(db.adminUrl, 'SELECT 1 FROM tenants WHERE id = $1', [a.id])).toEqual([]);
    expect(await jobs(a.id)).toBe(0);
    expect(existsSync(join(store, tenantModelName(a.id)))).toBe(false);
    // The other tenant is as it was.
    expect(await jobs(b.id)).toBe(1);
    expect(interactions).toBe(1);
    expect((await gql(urlA, b.appKey, FEED, { u: 'viewer' })).feed.edges.length).toBeGreaterThan(0);

    // Its live feed ended, and its keys no longer open anything.
    await Promise.race([live.done, new Promise((_, reject) => setTimeout(() => reject(new Error('the live feed did not end')), 10_000))]);
    expect((live.failure() as object[])[0]).toMatchObject({
      message: 'this tenant was deleted; its feeds have ended',
      extensions: { code: 'UNAUTHENTICATED' },
    });
    const refused = await fetch(urlB, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.appKey}` },
      body: JSON.stringify({ query: '{ items { edges { cursor } } }' }),
    });
    expect(refused.status).toBe(401);
    expect((await cli(['--slug', slug, '--yes'])).code).toBe(1);
  }, 120_000);
});
