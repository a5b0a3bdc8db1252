// Similar users and taste groups end to end, on real PostgreSQL and real ONNX sessions: users
// of a generated world with known groups, represented by the model that serves their tenant
// (the shipped base model, then the tenant's own after a promotion), grouped, and compared.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_STORE } from '../../src/config.js';
import { adjustedRandIndex } from '../../src/clustering/quality.js';
import { createArtifactStore } from '../../src/training/artifact-store.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, type TestTenant } from '../helpers/factories.js';
import { inProcessScorer } from '../helpers/worker.js';
import { seedWorld, startTestJobs, trainAndRegroup, type TestJobs } from '../helpers/training.js';

const SNAPSHOT = `id k kChosenBy silhouette daviesBouldin calinskiHarabasz stability users model trigger createdAt kTried { k silhouette }
  modelVersion { version tasteClasses { found served chosenBy users } }
  groups { id ordinal size centroid preferenceTokens { token activation } likedItems { item { externalId } lift users } dislikedItems { lift } representatives { externalId } }`;
const POINTS = '{ tasteGroups { id users points(first: 5000) { externalId group x y } } }';
const SIMILAR =
  'query($u: ID!, $first: Int!, $after: String) { similarUsers(userId: $u, first: $first, after: $after) { model reason edges { cursor node { similarity user { externalId } sharedLikes { count items { externalId } } } } pageInfo { hasNextPage endCursor } } }';

/** The generator's group of a user: user-N is in group N mod groups. */
const trueGroup = (externalId: string, groups: number) => Number(externalId.split('-').pop()) % groups;

describe('similar users and taste groups', () => {
  let db: TestDatabase;
  let api: TestApi;
  let jobs: TestJobs | undefined;
  let a: TestTenant; // dimension 32: the base model serves it until its own is promoted
  let b: TestTenant; // dimension 32 too, another tenant
  let closeScorer: () => Promise<void>;
  const GROUPS = 4;

  const gql = async (key: string, query: string, variables?: Record<string, unknown>) => {
    const r = await api.gql(key, query, variables);
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    return r.data;
  };

  beforeAll(async () => {
    db = await createTestDatabase('taste-groups');
    const { scorer, tenantStore } = await inProcessScorer(DEFAULT_MODEL_STORE);
    closeScorer = () => scorer.close();
    api = await startTestApi(db.appUrl, { scorer, artifacts: createArtifactStore(tenantStore) });
    a = await createTestTenant(db.adminUrl, 32);
    b = await createTestTenant(db.adminUrl, 32);
    // The default world's items and groups (seed 1), as the demo tenant has them.
    await seedWorld(api.services, a.admin, 32, { seed: 1, items: 600, users: 240, interactionsPerUser: 40, labelNoise: 0.08 });
    await seedWorld(api.services, b.admin, 32, { seed: 2, users: 80, interactionsPerUser: 30 }, 'b');
    jobs = await startTestJobs(api.services, api.db, db.appUrl, { TENANT_MODEL_STORE: tenantStore, MODEL_STORE: DEFAULT_MODEL_STORE });
  }, 180_000);

  afterAll(async () => {
    await jobs?.runner.stop();
    await api?.stop();
    await closeScorer?.();
    await db?.drop();
  });

  it('has no snapshot before the first, and says so', async () => {
    expect((await gql(a.adminKey, '{ tasteGroups { id } }')).tasteGroups).toBeNull();
  });

  it('groups users as the generator did (k by silhouette, and a fixed k)', async () => {
    const chosen = (await gql(a.adminKey, `mutation { refreshTasteGroups { ${SNAPSHOT} } }`)).refreshTasteGroups;
    // The base model was trained on other users: it says nothing of whether these form groups.
    expect(chosen).toMatchObject({ kChosenBy: 'SILHOUETTE', model: 'base-1', modelVersion: null, trigger: 'MANUAL', users: 240, stability: null });
    expect(chosen.kTried.map((t: { k: number }) => t.k)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // The smallest k within 0.02 of the best silhouette tried, and the snapshot's silhouette is that k's.
    const best = Math.max(...chosen.kTried.map((t: { silhouette: number }) => t.silhouette));
    expect(chosen.k).toBe(Math.min(...chosen.kTried.filter((t: { silhouette: number }) => t.silhouette >= best - 0.02).map((t: { k: number }) => t.k)));
    expect(chosen.silhouette).toBe(chosen.kTried.find((t: { k: number }) => t.k === chosen.k).silhouette);
    expect(chosen.groups.reduce((n: number, g: { size: number }) => n + g.size, 0)).toBe(240);
    expect(chosen.groups.map((g: { size: number }) => g.size)).toEqual([...chosen.groups.map((g: { size: number }) => g.size)].sort((x, y) => y - x));
    const ariChosen = await ari(a);

    const fixed = (await gql(a.adminKey, `mutation { refreshTasteGroups(k: ${GROUPS}) { ${SNAPSHOT} } }`)).refreshTasteGroups;
    expect(fixed).toMatchObject({ k: GROUPS, kChosenBy: 'ADMIN', kTried: [] });
    expect(fixed.stability).toBeGreaterThan(0);
    const ariFixed = await ari(a);
    console.log(
      `ARI against the true groups: k by silhouette (${chosen.k}) ${ariChosen.toFixed(3)}, k = ${GROUPS} ${ariFixed.toFixed(3)}; silhouette ${fixed.silhouette.toFixed(3)}, Davies-Bouldin ${fixed.daviesBouldin.toFixed(3)}`,
    );
    // Measured: 0.840 both (k by silhouette chose 4) with session 52's default model, which has a
    // taste-group network; 0.798 both with session 29's; before the taste coordinates 0.78 (k 5) and 0.83.
    expect(ariFixed).toBeGreaterThan(0.75);
    expect(ariChosen).toBeGreaterThan(0.75);

    // Each group is described: tokens (the base model has 10), items it likes more than the tenant, core users.
    for (const g of fixed.groups) {
      expect(g.preferenceTokens).toHaveLength(3);
      expect(g.representatives.length).toBe(5);
      expect(g.likedItems.length).toBeGreaterThan(0);
      for (const l of g.likedItems) expect(l.lift).toBeGreaterThan(1);
    }
  });

  async function ari(t: TestTenant) {
    const points = (await gql(t.adminKey, POINTS)).tasteGroups.points as { externalId: string; group: string }[];
    return adjustedRandIndex(
      points.map((p) => p.group),
      points.map((p) => trueGroup(p.externalId, GROUPS)),
    );
  }

  it("ranks a user's own group first among similar users, with the items both liked", async () => {
    let same = 0;
    let shown = 0;
    for (let u = 0; u < 40; u += 2) {
      const page = (await gql(a.adminKey, SIMILAR, { u: `user-${u}`, first: 10 })).similarUsers;
      expect(page).toMatchObject({ model: 'base-1', reason: null });
      expect(page.edges).toHaveLength(10);
      const sims = page.edges.map((e: { node: { similarity: number } }) => e.node.similarity);
      expect(sims).toEqual([...sims].sort((x, y) => y - x));
      for (const e of page.edges) {
        expect(e.node.user.externalId).not.toBe(`user-${u}`);
        expect(e.node.sharedLikes.items.length).toBe(Math.min(10, e.node.sharedLikes.count));
        shown++;
        if (trueGroup(e.node.user.externalId, GROUPS) === u % GROUPS) same++;
      }
    }
    console.log(`similarUsers: ${same} of ${shown} top-10 neighbours share the user's true group`);
    expect(same / shown).toBeGreaterThan(0.8);

    // Pages follow on without repeats.
    const first = (await gql(a.adminKey, SIMILAR, { u: 'user-0', first: 5 })).similarUsers;
    const second = (await gql(a.adminKey, SIMILAR, { u: 'user-0', first: 5, after: first.pageInfo.endCursor })).similarUsers;
    const all = (await gql(a.adminKey, SIMILAR, { u: 'user-0', first: 10 })).similarUsers;
    expect([...first.edges, ...second.edges].map((e: { node: { user: { externalId: string } } }) => e.node.user.externalId)).toEqual(
      all.edges.map((e: { node: { user: { externalId: string } } }) => e.node.user.externalId),
    );
  });

  it('lists users, a group’s members, and each user’s group and token activations', async () => {
    const snap = (await gql(a.adminKey, '{ tasteGroups { groups { id size } } }')).tasteGroups;
    const group = snap.groups[1];
    const members: string[] = [];
    let after: string | null = null;
    do {
      const page: any = (
        await gql(
          a.adminKey,
          'query($g: ID!, $after: String) { tasteGroup(id: $g) { members(first: 25, after: $after) { edges { node { externalId tasteGroup { id } } } pageInfo { hasNextPage endCursor } } } }',
          { g: group.id, after },
        )
      ).tasteGroup.members;
      for (const e of page.edges) {
        members.push(e.node.externalId);
        expect(e.node.tasteGroup.id).toBe(group.id);
      }
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    expect(new Set(members).size).toBe(group.size);
    const byFilter = (
      await gql(a.adminKey, 'query($g: ID!) { users(first: 500, tasteGroup: $g) { edges { node { externalId } } } }', { g: group.id })
    ).users.edges.map((e: { node: { externalId: string } }) => e.node.externalId);
    expect(byFilter).toEqual(members);
    const everyone = (await gql(a.adminKey, '{ users(first: 500) { edges { node { externalId } } pageInfo { hasNextPage } } }')).users;
    expect(everyone.edges).toHaveLength(240);

    const profile = (await gql(a.adminKey, '{ user(externalId: "user-3") { tasteProfile { model tokenActivations historySize embedding } } }')).user
      .tasteProfile;
    expect(profile.model).toBe('base-1');
    expect(profile.tokenActivations).toHaveLength(10);
    expect(profile.tokenActivations.reduce((s: number, x: number) => s + x, 0)).toBeCloseTo(1, 4);
    expect(profile.historySize).toBeGreaterThanOrEqual(30);
  });

  it("never shows another tenant's users or groups", async () => {
    await gql(b.adminKey, 'mutation { refreshTasteGroups(k: 3) { id } }');
    const ofA = (await gql(a.adminKey, '{ tasteGroups { id groups { id } } }')).tasteGroups;
    const page = (await gql(b.adminKey, SIMILAR, { u: 'user-1', first: 100 })).similarUsers;
    expect(page.edges.length).toBe(79);
    const bUsers = new Set(
      (await gql(b.adminKey, '{ users(first: 500) { edges { node { externalId } } } }')).users.edges.map(
        (e: { node: { externalId: string } }) => e.node.externalId,
      ),
    );
    for (const e of page.edges) expect(bUsers.has(e.node.user.externalId)).toBe(true);
    expect(bUsers.size).toBe(80);
    for (const query of [
      { q: 'query($id: ID!) { tasteGroups(snapshot: $id) { id } }', v: { id: ofA.id } },
      { q: 'query($id: ID!) { tasteGroup(id: $id) { id } }', v: { id: ofA.groups[0].id } },
      { q: 'query($id: ID!) { users(first: 5, tasteGroup: $id) { edges { node { externalId } } } }', v: { id: ofA.groups[0].id } },
    ]) {
      const r = await api.gql(b.adminKey, query.q, query.v);
      expect(r.errors?.[0].extensions?.code, query.q).toBe('NOT_FOUND');
    }
  });

  it('refuses app keys and bad input with clear codes', async () => {
    for (const q of [
      '{ tasteGroups { id } }',
      '{ users(first: 1) { edges { cursor } } }',
      '{ similarUsers(userId: "user-1") { model } }',
      'mutation { refreshTasteGroups { id } }',
      '{ tenant { activity { day } } }',
    ]) {
      const r = await api.gql(a.appKey, q);
      expect(r.errors?.[0].extensions?.code, q).toBe('FORBIDDEN');
    }
    const bad = await api.gql(a.adminKey, 'mutation { refreshTasteGroups(k: 0) { id } }');
    expect(bad.errors?.[0]).toMatchObject({ message: 'k: expected an integer from 1 to 50, got 0', extensions: { code: 'BAD_USER_INPUT' } });
    expect((await api.gql(a.adminKey, '{ similarUsers(userId: "nobody") { model } }')).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect((await api.gql(a.adminKey, '{ tasteGroups(snapshot: "not-a-snapshot") { id } }')).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    // A tenant whose vectors no model reads (no base model of dimension 5, no model of its own).
    const c = await createTestTenant(db.adminUrl, 5);
    const conflict = await api.gql(c.adminKey, 'mutation { refreshTasteGroups { id } }');
    expect(conflict.errors?.[0].extensions?.code).toBe('CONFLICT');
    expect(conflict.errors?.[0].message).toMatch(/^no model represents this tenant's users yet: no model for this tenant yet/);
  });

  it('after a promotion, computes representations by the new version and groups users again', async () => {
    const snapshot = await trainAndRegroup(api, a.adminKey, SNAPSHOT);
    expect(snapshot).toMatchObject({ trigger: 'PROMOTION', users: 240, modelVersion: { version: 1 } });
    // What the version's training found of the groups, from its metrics.json: the world has
    // 4 (the count is judged on training users held out from the fit, so it need not be 4
    // exactly), and the representation mixes at least 10 classes.
    const found = snapshot.modelVersion.tasteClasses;
    console.log(`version 1's training found ${found.found} taste classes among ${found.users} training users, serves ${found.served}`);
    expect(found.chosenBy).toMatch(/^held-out log-likelihood/);
    expect(found.found).toBeGreaterThanOrEqual(2);
    expect(found.served).toBeGreaterThanOrEqual(Math.max(10, found.found));
    expect(found.users).toBeGreaterThan(100);
    expect(snapshot.stability).not.toBeNull();
    const profile = (await gql(a.adminKey, '{ user(externalId: "user-3") { tasteProfile { model } } }')).user.tasteProfile;
    expect(profile.model).toBe('1');
    expect((await gql(a.adminKey, SIMILAR, { u: 'user-0', first: 3 })).similarUsers.model).toBe('1');
    const promotedAri = await ari(a);
    console.log(
      `after promotion (tenant's version 1, k ${snapshot.k}): ARI against the true groups ${promotedAri.toFixed(3)}, stability ${snapshot.stability.toFixed(3)}`,
    );
    // Measured 0.849 with the tests' small model (FAST_TRAINING); 0.799 since exports hold the latest state per user and item.
    expect(promotedAri).toBeGreaterThan(0.6);
  }, 300_000);

  it('says when the training found no taste groups: users who differ one by one, in no groups', async () => {
    // One taste, each user far from it in a direction of their own (synth's --groups 1
    // --personal 1): k-means still draws groups, and only the model's training can tell.
    const c = await createTestTenant(db.adminUrl, 32);
    await seedWorld(api.services, c.admin, 32, { seed: 3, users: 240, groups: 1, personalNoise: 1, interactionsPerUser: 40 }, 'c');
    const snapshot = await trainAndRegroup(api, c.adminKey, SNAPSHOT);
    console.log(
      `a tenant without groups: k ${snapshot.k}, silhouette ${snapshot.silhouette.toFixed(3)}; taste classes ${JSON.stringify(snapshot.modelVersion.tasteClasses)}`,
    );
    expect(snapshot.modelVersion).toMatchObject({ version: 1, tasteClasses: { found: 1, served: 10 } });
  }, 300_000);
});
