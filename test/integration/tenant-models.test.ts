// Tenants' own models in the worker, over real HTTP with real ONNX sessions: one Triton model
// per tenant, loaded on first use within a memory budget (least recently used out first),
// names that cannot become paths, and a version that cannot load refused while the one
// before it serves on, in metrics and logs as well as in answers.
import { copyFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createWorkerClient } from '../../src/inference/worker-client.js';
import { createPredictor } from '../../src/inference/predictor.js';
import { ModelUnavailableError } from '../../src/inference/scorer.js';
import { tenantModelName } from '../../src/inference/model-names.js';
import { estimateBytes } from '../../src/inference/tenant-models.js';
import { tritonConfig } from '../../src/training/artifact-store.js';
import { createScoringService } from '../../src/services/scoring.service.js';
import type { ItemRow } from '../../src/repositories/item.repository.js';
import { fixtureModel, fixtureRow, inferOver, startTestWorker, type TestWorker } from '../helpers/worker.js';

let worker: TestWorker | undefined;
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});

/** Puts the fixture model (or a corrupt file) into the tenant store as tenant/version. */
function putVersion(store: string, tenantId: string, version: number, corrupt = false) {
  const dir = join(store, tenantModelName(tenantId), String(version));
  mkdirSync(dir, { recursive: true });
  if (corrupt) writeFileSync(join(dir, 'model.onnx'), Buffer.from('not an onnx model'));
  else copyFileSync(join(fixtureModel(), 'model.onnx'), join(dir, 'model.onnx'));
}

const infer = (url: string, model: string, version?: string) => inferOver(url, model, version, fixtureRow(0));

const metrics = async (url: string) => (await fetch(`${url}/metrics`)).text();

describe("tenants' models in the worker", () => {
  it('serves each tenant its own model by name and version, loaded on first use', async () => {
    worker = await startTestWorker();
    const t = randomUUID();
    putVersion(worker.tenantStore, t, 3);
    const base = await infer(worker.url, 'preference');
    const own = await infer(worker.url, tenantModelName(t), '3');
    expect(own.status).toBe(200);
    expect((own as { version: string }).version).toBe('3');
    // The same file as the base model here: the same logits.
    expect(Array.from((own as any).output.logits)).toEqual(Array.from((base as any).output.logits));
    expect(await metrics(worker.url)).toMatch(/tastegraph_worker_tenant_models_loaded 1/);
    const meta = await (await fetch(`${worker.url}/v2/models/${tenantModelName(t)}/versions/3`)).json();
    expect(meta).toMatchObject({ name: tenantModelName(t), versions: ['3'], parameters: { served_version: '3' } });
  });

  it('answers 404 for an unknown tenant or version, and for names that could become paths', async () => {
    worker = await startTestWorker();
    const t = randomUUID();
    putVersion(worker.tenantStore, t, 1);
    expect(await infer(worker.url, tenantModelName(randomUUID()), '1')).toMatchObject({ status: 404 });
    expect(await infer(worker.url, tenantModelName(t), '2')).toMatchObject({ status: 404, error: `model ${tenantModelName(t)} has no version 2 in the store` });
    expect(await infer(worker.url, 'tenant-..%2F..%2Fpreference', '1')).toMatchObject({ status: 404 });
    for (const version of ['0', '1e3', '-1', 'latest']) expect(await infer(worker.url, tenantModelName(t), version), version).toMatchObject({ status: 404 });
  });

  it('keeps within its memory budget, unloading the least recently used version first', async () => {
    const size = statSync(join(fixtureModel(), 'model.onnx')).size;
    // Room for two versions, not three.
    worker = await startTestWorker({ cacheBytes: Math.floor(2.5 * estimateBytes(size)) });
    const [t1, t2, t3] = [randomUUID(), randomUUID(), randomUUID()];
    for (const t of [t1, t2, t3]) putVersion(worker.tenantStore, t, 1);
    await infer(worker.url, tenantModelName(t1), '1');
    await infer(worker.url, tenantModelName(t2), '1');
    await infer(worker.url, tenantModelName(t1), '1'); // t1 used last: t2 is the least recent now
    await infer(worker.url, tenantModelName(t3), '1');
    expect(worker.models.tenants.versions(tenantModelName(t1))).toEqual(['1']);
    expect(worker.models.tenants.versions(tenantModelName(t2))).toEqual([]);
    expect(worker.models.tenants.versions(tenantModelName(t3))).toEqual(['1']);
    const text = await metrics(worker.url);
    expect(text).toMatch(/tastegraph_worker_tenant_models_loaded 2/);
    expect(text).toMatch(/tastegraph_worker_tenant_model_evictions_total 1/);
    // Each has scored one user's 5 candidates of dimension 8: its arena is counted too.
    expect(text).toMatch(new RegExp(`tastegraph_worker_tenant_model_bytes ${2 * estimateBytes(size, 8, 5)}`));
    // An unloaded version loads again when asked for.
    expect(await infer(worker.url, tenantModelName(t2), '1')).toMatchObject({ status: 200 });
  });

  it("answers Triton's repository index and unload: versions in the store, READY while loaded; an unloaded tenant model loads again on use", async () => {
    worker = await startTestWorker();
    const t = randomUUID();
    const name = tenantModelName(t);
    putVersion(worker.tenantStore, t, 1);
    putVersion(worker.tenantStore, t, 2);
    const index = async (body?: string) => {
      const r = await fetch(`${worker!.url}/v2/repository/index`, { method: 'POST', ...(body === undefined ? {} : { body }) });
      return { status: r.status, body: await r.json() };
    };
    expect(await index()).toEqual({
      status: 200,
      body: [
        { name: 'preference', version: '1', state: 'READY', reason: '' },
        { name, version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
        { name, version: '2', state: 'UNAVAILABLE', reason: 'unloaded' },
      ],
    });
    expect(await infer(worker.url, name, '2')).toMatchObject({ status: 200 });
    expect((await index('{"ready": true}')).body).toEqual([
      { name: 'preference', version: '1', state: 'READY', reason: '' },
      { name, version: '2', state: 'READY', reason: '' },
    ]);
    expect(await index('{nope')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/must be JSON/) } });

    const unload = await fetch(`${worker.url}/v2/repository/models/${name}/unload`, { method: 'POST' });
    expect([unload.status, await unload.json()]).toEqual([200, { unloaded: ['2'] }]);
    expect(worker.models.tenants.versions(name)).toEqual([]);
    expect((await index('{"ready": true}')).body).toEqual([{ name: 'preference', version: '1', state: 'READY', reason: '' }]);
    expect(await infer(worker.url, name, '2')).toMatchObject({ status: 200 });
    // The base model stays: every tenant without its own is scored by it.
    const base = await fetch(`${worker.url}/v2/repository/models/preference/unload`, { method: 'POST' });
    expect([base.status, (await base.json()).error]).toEqual([400, expect.stringMatching(/base model .* is not unloaded/)]);
    expect((await fetch(`${worker.url}/v2/repository/models/tenant-nope/unload`, { method: 'POST' })).status).toBe(404);
  });

  it('refuses a version that cannot load, keeps the one before serving, and says so in metrics and in the load answer', async () => {
    worker = await startTestWorker();
    const t = randomUUID();
    const name = tenantModelName(t);
    putVersion(worker.tenantStore, t, 1);
    writeFileSync(join(worker.tenantStore, name, 'config.pbtxt'), tritonConfig(name, 8, 4, [1]));
    const first = await fetch(`${worker.url}/v2/repository/models/${name}/load`, { method: 'POST' });
    expect(await first.json()).toEqual({ loaded: ['1'], unloaded: [], refused: [], versions: ['1'], serving: '1' });
    // The promotion of version 2: its file is corrupt.
    putVersion(worker.tenantStore, t, 2, true);
    writeFileSync(join(worker.tenantStore, name, 'config.pbtxt'), tritonConfig(name, 8, 4, [2, 1]));
    const load = await fetch(`${worker.url}/v2/repository/models/${name}/load`, { method: 'POST' });
    expect(load.status).toBe(400);
    const answer = await load.json();
    expect(answer).toMatchObject({ serving: '2', versions: ['1'], refused: [{ version: '2' }] });
    expect(answer.error).toMatch(new RegExp(`^model ${name} version 2 cannot be loaded: .*/2/model.onnx: cannot load as ONNX`));
    expect(await infer(worker.url, name, '1')).toMatchObject({ status: 200, version: '1' });
    expect(await infer(worker.url, name, '2')).toMatchObject({ status: 409 });
    expect(await metrics(worker.url)).toMatch(new RegExp(`tastegraph_worker_model_load_failures_total\\{model="${name}",version="2"\\} 1`));
    // Through the API's client: the version that cannot load is a ModelUnavailableError, told apart from an outage.
    const client = createWorkerClient({ urls: [worker.url], retries: 1 });
    try {
      await expect(client.score({ name, version: '2' }, fixtureRow(0), Date.now() + 2000)).rejects.toBeInstanceOf(ModelUnavailableError);
      expect(await client.load(name)).toEqual([
        { target: worker.url, ok: false, refused: true, error: expect.stringMatching(/answered 400: model .* version 2 cannot be loaded/) },
      ]);
    } finally {
      await client.close();
    }
  });

  it('scoring falls back to the version before the promoted one when that one cannot load', async () => {
    worker = await startTestWorker();
    const t = randomUUID();
    putVersion(worker.tenantStore, t, 1);
    putVersion(worker.tenantStore, t, 2, true);
    const client = createWorkerClient({ urls: [worker.url], retries: 0 });
    const D = 8;
    const item = (id: number): ItemRow => ({
      id,
      externalId: `i${id}`,
      url: null,
      prompt: null,
      embedding: new Float32Array(D).fill(id / 10),
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    const scoring = createScoringService({
      users: { findByExternalId: async () => undefined } as never,
      interactions: {} as never,
      items: { findByExternalIds: async (_: string, ids: readonly string[]) => ids.map((x) => item(Number(x.slice(1)))) } as never,
      predictor: createPredictor(client),
      servingModels: { resolve: async () => ({ kind: 'tenant', version: 2, previous: 1 }) },
      historyPerKind: 8,
      timeoutMs: 2000,
      log: pino({ level: 'silent' }),
    });
    try {
      const [result] = await scoring.scoreMany({ tenantId: t, role: 'app', keyId: 'k' }, [{ userId: 'u', itemIds: ['i1', 'i2'] }]);
      expect(result).toMatchObject({ degraded: false, modelVersion: '1' });
    } finally {
      await client.close();
    }
  });
});
