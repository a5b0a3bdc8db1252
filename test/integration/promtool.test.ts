// Our own metrics pass Prometheus's linter (promtool check metrics, from Debian's prometheus
// package; .ci/run installs it), as scraped from a running API, worker and jobs process after
// some traffic. prom-client's Node defaults are left out: its nodejs_active_*_total gauges
// break promtool's naming rule (a known upstream issue), and they are not ours to rename.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createTestTenant, makeItems } from '../helpers/factories.js';
import { startProcess, type StartedProcess } from '../helpers/processes.js';
import { fixtureRow, inferOver, startTestWorker, type TestWorker } from '../helpers/worker.js';
import { connectWs, runOn } from '../helpers/ws.js';

/** The HELP, TYPE and sample lines of the tastegraph_* families only. */
function ours(text: string): string {
  return text
    .split('\n')
    .filter((line) => /^(# (HELP|TYPE) )?tastegraph_/.test(line))
    .join('\n')
    .concat('\n');
}

function promtool(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
    child.stdin!.end(text);
  });
}

describe('promtool check metrics', () => {
  let db: TestDatabase;
  let api: TestApi;
  let worker: TestWorker;
  let jobs: StartedProcess;

  beforeAll(async () => {
    db = await createTestDatabase('promtool');
    api = await startTestApi(db.appUrl);
    worker = await startTestWorker();
    jobs = await startProcess('jobs', {
      DATABASE_URL: db.appUrl,
      TENANT_MODEL_STORE: mkdtempSync(join(tmpdir(), 'tg-promtool-')),
      TRAINING_WORK_DIR: mkdtempSync(join(tmpdir(), 'tg-promtool-work-')),
    });
  });
  afterAll(async () => {
    await jobs?.stop();
    await worker?.stop();
    await api?.stop();
    await db?.drop();
  });

  it('the linter is installed and catches a bad metric (so a clean result means something)', async () => {
    const bad = await promtool('# HELP tastegraph_x_total x\n# TYPE tastegraph_x_total gauge\ntastegraph_x_total 1\n');
    expect(bad.output).toMatch(/non-counter metrics should not have "_total" suffix/);
  });

  it("the API's, the worker's and the jobs' own metrics lint clean", async () => {
    const t = await createTestTenant(db.adminUrl, 4);
    await api.gql(t.appKey, `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { externalId } }`, { items: makeItems(3, 4) });
    await api.gql(t.appKey, '{ nope }');
    const ws = connectWs(api.wsUrl, t.appKey);
    await runOn(ws, '{ items(first: 1) { edges { node { externalId } } } }');
    await ws.dispose();
    expect((await inferOver(worker.url, 'preference', undefined, fixtureRow(0))).status).toBe(200);
    await fetch(`${worker.url}/v2/models/preference/infer`); // a 405, counted

    const scraped = {
      api: await (await fetch(api.url.replace('/graphql', '/metrics'))).text(),
      worker: await (await fetch(`${worker.url}/metrics`)).text(),
      jobs: await (await fetch(`${jobs.url}/metrics`)).text(),
    };
    for (const [process, text] of Object.entries(scraped)) {
      const own = ours(text);
      expect(own, process).toMatch(/^# TYPE tastegraph_/m);
      expect(await promtool(own), process).toEqual({ code: 0, output: '' });
    }
  });
});
