// A tenant's vector index partitioning itself inside a real API process (FEED_INDEX_PARTITION_FLOATS
// low enough for a small tenant): each try is counted at /metrics by its outcome and by what
// triggered it, and logged with why. First the index's size, once its build is done; then, after
// the tenant rewrote its images into vectors no partitions follow, its partitions missing on
// the next check, and the index going back to exact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, type TestTenant } from '../helpers/factories.js';
import { startProcess, type StartedProcess } from '../helpers/processes.js';

const DIM = 16;
const ITEMS = 4000;
const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`;
const FEED = `query($u: ID!) { feed(userId: $u, first: 5) { edges { node { score } } } }`;

/** A fixed pseudo-random sequence in [-1, 1). */
function sequence(seed: number) {
  let s = seed;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** `n` vectors near 40 centres (clustered) or uniform in the cube. */
function vectors(kind: 'clustered' | 'uniform', n: number): number[][] {
  const random = sequence(kind === 'clustered' ? 3 : 5);
  const centres = Array.from({ length: 40 }, () => Array.from({ length: DIM }, random));
  return Array.from({ length: n }, (_, i) => (kind === 'clustered' ? centres[i % 40].map((x) => x + 0.15 * random()) : Array.from({ length: DIM }, random)));
}

describe('a tenant index partitioning inside the API', () => {
  let db: TestDatabase;
  let t: TestTenant;
  let api: StartedProcess;

  const gql = async (query: string, variables: object) => {
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.appKey}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json();
    expect(body.errors).toBeUndefined();
    return body.data;
  };
  const upsert = async (kind: 'clustered' | 'uniform') => {
    const all = vectors(kind, ITEMS);
    for (let first = 0; first < ITEMS; first += 1000)
      await gql(UPSERT, { items: all.slice(first, first + 1000).map((embedding, j) => ({ id: `image-${first + j}`, embedding })) });
  };
  /** Asks for feeds until /metrics counts a try with this outcome and trigger (the tries run in the background). */
  const counted = async (outcome: string, trigger: string) => {
    const line = new RegExp(`^tastegraph_feed_index_partitionings_total\\{(?=[^}]*outcome="${outcome}")(?=[^}]*trigger="${trigger}")[^}]*\\} 1$`, 'm');
    for (let i = 0; i < 100; i++) {
      await gql(FEED, { u: 'someone' });
      if (line.test(await (await fetch(new URL('/metrics', api.url))).text())) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };

  beforeAll(async () => {
    db = await createTestDatabase('api_index_partitioning');
    t = await createTestTenant(db.adminUrl, DIM);
    api = await startProcess('api', {
      DATABASE_URL: db.appUrl,
      DATABASE_ADMIN_URL: db.adminUrl,
      WORKER_URLS: '',
      FEED_INDEX_PARTITION_FLOATS: String(DIM),
      RATE_LIMIT_KEY_PER_SECOND: '0',
      RATE_LIMIT_TENANT_PER_SECOND: '0',
      LOG_LEVEL: 'info',
    });
    await upsert('clustered');
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
  });

  it('counts and logs a partitioning for the size, then one for the recall that goes back to exact', async () => {
    expect(await counted('kept', 'size')).toBe(true);
    expect(api.output()).toMatch(/feed vector index partitioned \(it is past FEED_INDEX_PARTITION_FLOATS\)/);
    await upsert('uniform');
    expect(await counted('declined', 'recall')).toBe(true);
    expect(api.output()).toMatch(/feed vector index not partitioned \(its partitions missed nearest items of the images written since\)/);
  });
});
