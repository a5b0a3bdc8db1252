// The admin dashboard in a real headless Chromium (Debian's chromium, driven by
// playwright-core) against a real API on PostgreSQL with real ONNX sessions: an app key is
// refused, and an admin sees the seeded tenant's figures, one point per grouped user, group
// cards with the items' pictures (served by a local image host), a user's page and the
// models page. Screenshots go to test-artifacts/admin/.
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_STORE } from '../../src/config.js';
import { generateTasteWorld } from '../../src/synth/taste-world.js';
import { createArtifactStore } from '../../src/training/artifact-store.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, type TestTenant } from '../helpers/factories.js';
import { seedWorld, startTestJobs, trainAndRegroup, type TestJobs } from '../helpers/training.js';
import { inProcessScorer } from '../helpers/worker.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'admin');
// As a root process on a machine without a network: no sandbox, nothing fetched in the background.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A 2x2 PNG per colour: the tenant's item pictures, on a host of its own (not the API's). */
function imageHost(): Promise<Server> {
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==', 'base64');
  const server = createServer((req, res) => {
    if (!req.url?.startsWith('/img/')) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'image/png' }).end(png);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('the admin dashboard in a real browser', () => {
  let db: TestDatabase;
  let api: TestApi;
  let images: Server;
  let browser: Browser;
  let tenant: TestTenant;
  let closeScorer: () => Promise<void>;
  let tenantStore: string;
  let jobs: TestJobs | undefined;
  /** The tenant with a model of its own, trained by the jobs (the last two tests). */
  let own: TestTenant;
  const USERS = 120;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it), or set CHROMIUM_PATH`);
    mkdirSync(ARTIFACTS, { recursive: true });
    db = await createTestDatabase('admin-dashboard');
    const inProcess = await inProcessScorer(DEFAULT_MODEL_STORE);
    tenantStore = inProcess.tenantStore;
    closeScorer = () => inProcess.scorer.close();
    api = await startTestApi(db.appUrl, { scorer: inProcess.scorer, artifacts: createArtifactStore(tenantStore) });
    images = await imageHost();
    const imageUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}/img`;

    tenant = await createTestTenant(db.adminUrl, 32);
    const world = generateTasteWorld({ seed: 1, users: USERS, items: 600, dim: 32, interactionsPerUser: 40 });
    await api.services.items.upsert(
      tenant.admin,
      world.items.map((item) => ({ id: item.id, prompt: item.prompt, url: `${imageUrl}/${item.id}.png`, embedding: Array.from(item.vector) })),
    );
    for (let i = 0; i < world.interactions.length; i += 1000) {
      await api.services.interactions.record(
        tenant.admin,
        world.interactions
          .slice(i, i + 1000)
          .map((e) => ({ userId: e.user, itemId: e.item, kind: e.label ? ('LIKE' as const) : ('DISLIKE' as const), pairId: e.pair })),
      );
    }
    const r = await api.gql(tenant.adminKey, 'mutation { refreshTasteGroups(k: 4) { users } }');
    expect(r.errors).toBeUndefined();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 120_000);

  afterAll(async () => {
    await jobs?.runner.stop();
    await browser?.close();
    await new Promise((resolve) => images?.close(resolve));
    await api?.stop();
    await closeScorer?.();
    await db?.drop();
  });

  async function signIn(key: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(20_000);
    await page.goto(new URL('/admin', api.url).href);
    await page.fill('#key', key);
    await page.click('#sign-in button[type=submit]');
    return page;
  }

  it('refuses an app key, saying why, and keeps it out of the URL', async () => {
    const page = await signIn(tenant.appKey);
    await expect.poll(() => page.textContent('#sign-in-error')).toBe('This dashboard needs an admin key: the key given is an app key.');
    expect(await page.isHidden('#nav')).toBe(true);
    expect(page.url()).not.toContain(tenant.appKey);
    await page.screenshot({ path: join(ARTIFACTS, 'app-key-refused.png') });
    await page.close();
  }, 60_000);

  it('shows an admin the overview, the taste groups with one point per user, a user and the models', async () => {
    const page = await signIn(tenant.adminKey);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));

    await page.waitForSelector('[data-section=counts]');
    const counts = await page.textContent('[data-section=counts]');
    expect(counts).toContain(`${USERS}users`);
    expect(counts).toContain('600items');
    expect(counts).toContain('base model (base-1)scored by');
    // Nothing unset reaches the page as text ("null", "undefined").
    const leftovers = async () => (await page.textContent('main'))!.match(/\b(null|undefined|NaN)\b/g);
    expect(await page.locator('[data-chart=activity] rect').count()).toBeGreaterThan(0);
    expect(page.url()).not.toContain(tenant.adminKey);
    expect(await page.evaluate(() => sessionStorage.getItem('tastegraph.adminKey'))).toBe(tenant.adminKey);
    expect(await leftovers()).toBeNull();
    await page.screenshot({ path: join(ARTIFACTS, 'overview.png'), fullPage: true });

    await page.click('nav a[href="#/groups"]');
    await page.waitForSelector('[data-chart=scatter]');
    expect(await page.locator('[data-chart=scatter] circle').count()).toBe(USERS);
    expect(await page.locator('.grid [data-group]').count()).toBe(4);
    const quality = await page.textContent('[data-section=quality]');
    expect(quality).toMatch(/silhouette/);
    expect(quality).toContain('groups the model found');
    // The base model was trained on other users: it cannot say whether these form groups.
    expect(await page.textContent('[data-section=taste-classes]')).toContain('the shipped base model, trained on other users');
    // The group cards show the liked items' pictures, loaded from the tenant's image host.
    const firstPicture = page.locator('[data-group="1"] img.thumb').first();
    await expect.poll(() => firstPicture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(2);
    expect(await leftovers()).toBeNull();
    await page.screenshot({ path: join(ARTIFACTS, 'taste-groups.png'), fullPage: true });

    // Clicking a point opens that user's page: history, group, similar users, token activations.
    // The last circle is painted on top: no other can cover it (users of one taste overlap).
    const dot = page.locator('[data-chart=scatter] circle').last();
    const userId = await dot.getAttribute('data-user');
    await dot.click();
    await page.waitForSelector('[data-section=similar] table');
    expect(await page.textContent('[data-section=profile]')).toContain(`User ${userId}`);
    expect(await page.textContent('[data-section=profile]')).toMatch(/Taste group \d/);
    expect(await page.locator('[data-section=similar] tr').count()).toBe(11);
    expect(await page.locator('[data-chart=tokens] rect').count()).toBe(10);
    expect(await page.locator('[data-section=history] tr').count()).toBeGreaterThan(1);
    expect(await leftovers()).toBeNull();
    // An undo shows as one, and the like it undid as replaced.
    await api.services.interactions.record(tenant.admin, [{ userId: userId!, itemId: 'item-599', kind: 'LIKE' }]);
    await api.services.interactions.clear(tenant.admin, [{ userId: userId!, itemId: 'item-599' }]);
    await page.reload();
    await page.waitForSelector('[data-section=similar] table');
    const rows = await page.locator('[data-section=history] tr').allTextContents();
    expect(rows[1]).toMatch(/^item-599\s*undo/);
    expect(rows[2]).toMatch(/^item-599\s*like \(replaced\)/);
    await page.screenshot({ path: join(ARTIFACTS, 'user.png'), fullPage: true });

    await page.click('nav a[href="#/models"]');
    await page.waitForSelector('[data-section=versions]');
    expect(await page.textContent('main')).toContain('The shipped base model, version base-1.');
    expect(await leftovers()).toBeNull();
    await page.screenshot({ path: join(ARTIFACTS, 'models.png'), fullPage: true });

    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it("shows what a tenant's own model found of its groups, and groups by that count", async () => {
    // A tenant of 4 taste groups, trained by the real job runner and trainer: its version
    // records the count its training found (4 here, as in test/api/taste-groups.test.ts).
    own = await createTestTenant(db.adminUrl, 32);
    await seedWorld(api.services, own.admin, 32, { seed: 1, items: 600, users: 240, interactionsPerUser: 40, labelNoise: 0.08 }, 'own');
    jobs = await startTestJobs(api.services, api.db, db.appUrl, { TENANT_MODEL_STORE: tenantStore, MODEL_STORE: DEFAULT_MODEL_STORE });
    const promoted = await trainAndRegroup(api, own.adminKey, 'modelVersion { version tasteClasses { found } }');
    const found: number = promoted.modelVersion.tasteClasses.found;
    expect(found).toBeGreaterThanOrEqual(2);
    // An admin's k other than the model's count, so that the page offers the count.
    const other = found === 2 ? 3 : found - 1;
    expect((await api.gql(own.adminKey, `mutation { refreshTasteGroups(k: ${other}) { k } }`)).errors).toBeUndefined();

    const page = await signIn(own.adminKey);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await page.waitForSelector('[data-section=counts]');
    await page.click('nav a[href="#/groups"]');
    await page.waitForSelector('[data-chart=scatter]');
    expect(await page.textContent('[data-section=quality]')).toContain(`${found}groups the model found`);
    expect(await page.textContent('[data-section=taste-classes]')).toContain(
      `Version ${promoted.modelVersion.version}'s training found ${found} groups of taste`,
    );
    expect(await page.locator('.grid [data-group]').count()).toBe(other);
    await page.click('[data-action=regroup-found]');
    await expect.poll(() => page.locator('.grid [data-group]').count(), { timeout: 20_000 }).toBe(found);
    expect(await page.textContent('[data-section=quality]')).toContain(`${found} (given)`);
    // Grouped by the model's count now: nothing else to offer.
    expect(await page.locator('[data-action=regroup-found]').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'taste-groups-own-model.png'), fullPage: true });

    await page.click('nav a[href="#/models"]');
    await page.waitForSelector('[data-section=versions] [data-version]');
    const row = await page.locator(`[data-version="${promoted.modelVersion.version}"] td`).allTextContents();
    expect(row[8]).toBe(String(found));
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);

  it('follows a run started with "Train now" over WebSocket, drawing each push, until it ends', async () => {
    const page = await signIn(own.adminKey);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    const frames: string[] = [];
    page.on('websocket', (socket) => socket.on('framereceived', (frame) => frames.push(String(frame.payload))));
    await page.waitForSelector('[data-section=counts]');
    await page.click('nav a[href="#/models"]');
    await page.waitForSelector('[data-section=versions] [data-version]');
    const before = await page.locator('[data-section=runs] [data-run]').count();
    await page.click('[data-action=train]');
    await expect.poll(() => page.locator('[data-section=runs] [data-run]').count()).toBe(before + 1);
    const newest = page.locator('[data-section=runs] [data-run]').first();
    // The row moves on while the page stays as it is: nothing reloads it but the pushes.
    const seen = new Set<string>();
    await expect
      .poll(
        async () => {
          const status = await newest.getAttribute('data-status');
          if (status) seen.add(status);
          return status;
        },
        { timeout: 240_000, interval: 200 },
      )
      .toBe('SUCCEEDED');
    expect(seen.has('RUNNING')).toBe(true);
    const pushed = frames.filter((f) => f.includes('"trainingRunUpdated"')).map((f) => JSON.parse(f).payload.data.trainingRunUpdated.status);
    expect(pushed[0]).toMatch(/QUEUED|RUNNING/);
    expect(pushed.at(-1)).toBe('SUCCEEDED');
    expect(frames.some((f) => JSON.parse(f).type === 'complete')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);
});
