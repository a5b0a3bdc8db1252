// The inference worker over real HTTP with a real ONNX model: protocol conformance, batching,
// overload, deadlines, reloads under load, and refusing a bad model.
import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { writeFileSync, mkdirSync, rmSync, utimesSync } from 'node:fs';
import { loadConfig } from '../../src/config.js';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeInferRequest } from '../../src/inference/protocol.js';
import { type ScoreBatch } from '../../src/inference/tensors.js';
import { createWorkerClient } from '../../src/inference/worker-client.js';
import {
  addVersion,
  inferOver,
  fixtureBatch as wholeFixture,
  fixtureModel,
  fixtureRow,
  readFixture,
  sessionRuns,
  startTestWorker,
  type Fixture,
  type TestWorker,
} from '../helpers/worker.js';

/** The shipped base model, as the worker names it. */
const BASE = { name: 'preference' };

let fx: Fixture;
let worker: TestWorker | undefined;

const fixtureBatch = () => wholeFixture(fx);
const row = (b: number) => fixtureRow(b, fx);

/**
 * Runs `change` while 4 callers score against the worker's latest version without pause
 * (100 ms of load before and after it); the failed calls, and the versions that answered.
 */
async function underLoad(url: string, change: () => Promise<void>): Promise<{ failures: number; versions: Set<string> }> {
  const client = createWorkerClient({ urls: [url], retries: 0 });
  let stop = false;
  let failures = 0;
  const versions = new Set<string>();
  const load = Array.from({ length: 4 }, async () => {
    while (!stop)
      await client.score(BASE, row(1), Date.now() + 5000).then(
        (r) => versions.add(r.version),
        () => failures++,
      );
  });
  await new Promise((r) => setTimeout(r, 100));
  await change();
  await new Promise((r) => setTimeout(r, 100));
  stop = true;
  await Promise.all(load);
  await client.close();
  return { failures, versions };
}

async function inferBinary(url: string, batch: ScoreBatch, timeoutUs?: number) {
  return inferVersion(url, undefined, batch, timeoutUs);
}

const inferVersion = (url: string, version: string | undefined, batch: ScoreBatch, timeoutUs?: number) =>
  inferOver(url, 'preference', version, batch, timeoutUs);

/** The fixture's history as JSON tensors (the candidates vary by test). */
function historyInputs() {
  const { B, H, D } = fx.shape;
  return [
    { name: 'history', datatype: 'FP32', shape: [B, H, D], data: fx.history },
    { name: 'history_label', datatype: 'INT64', shape: [B, H], data: fx.history_label },
    { name: 'history_mask', datatype: 'BOOL', shape: [B, H], data: fx.history_mask.map(Boolean) },
  ];
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).every((x, i) => Math.abs(x - b[i]) < 1e-4);

beforeAll(() => {
  fx = readFixture();
});
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});

describe('Open Inference Protocol conformance', () => {
  it('health, server and model metadata, readiness', async () => {
    worker = await startTestWorker();
    const get = async (path: string) => {
      const r = await fetch(`${worker!.url}${path}`);
      return { status: r.status, body: await r.json() };
    };
    expect(await get('/v2/health/live')).toEqual({ status: 200, body: { live: true } });
    expect(await get('/v2/health/ready')).toEqual({ status: 200, body: { ready: true } });
    expect((await get('/v2')).body).toMatchObject({ name: 'tastegraph-worker', extensions: ['binary_tensor_data', 'model_repository'] });
    const meta = await get('/v2/models/preference');
    expect(meta.body).toMatchObject({ name: 'preference', versions: ['1'], platform: 'onnxruntime_onnx' });
    expect(meta.body.inputs.map((i: { name: string; datatype: string }) => `${i.name}:${i.datatype}`)).toEqual([
      'history:FP32',
      'history_label:INT64',
      'history_mask:BOOL',
      'candidates:FP32',
    ]);
    expect(meta.body.inputs[0].shape).toEqual([-1, -1, 8]);
    expect((await get('/v2/models/preference/versions/1')).status).toBe(200);
    expect((await get('/v2/models/preference/versions/1/ready')).body).toEqual({ name: 'preference', ready: true });
    expect((await get('/v2/models/preference/versions/9/ready')).status).toBe(404);
    expect(await get('/v2/models/other')).toEqual({ status: 404, body: { error: 'unknown model other' } });
  });

  it('infer with binary tensors matches PyTorch within 1e-4', async () => {
    worker = await startTestWorker();
    const result = await inferBinary(worker.url, fixtureBatch());
    expect(result.status).toBe(200);
    if (result.status === 200 && 'output' in result) {
      expect(result.version).toBe('1');
      expect(close(result.output.logits, fx.logits)).toBe(true);
    }
  });

  it('infer with JSON tensors gives the same logits, and echoes the request id', async () => {
    worker = await startTestWorker();
    const { B, T, D } = fx.shape;
    const response = await fetch(`${worker.url}/v2/models/preference/versions/1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: 'req-7',
        inputs: [...historyInputs(), { name: 'candidates', datatype: 'FP32', shape: [B, T, D], data: fx.candidates }],
      }),
    });
    const body = await response.json();
    expect(body).toMatchObject({ model_name: 'preference', model_version: '1', id: 'req-7' });
    expect(body.outputs[0]).toMatchObject({ name: 'logits', datatype: 'FP32', shape: [B, T, 2] });
    expect(close(body.outputs[0].data, fx.logits)).toBe(true);
    expect(body.outputs.map((o: { name: string }) => o.name)).toEqual(['logits', 'user_embedding']);
  });

  it('answers only the outputs a request names, as Triton does', async () => {
    worker = await startTestWorker();
    const { B, T, D } = fx.shape;
    const response = await fetch(`${worker.url}/v2/models/preference/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [...historyInputs(), { name: 'candidates', datatype: 'FP32', shape: [B, T, D], data: fx.candidates }],
        outputs: [{ name: 'user_embedding' }],
      }),
    });
    const body = await response.json();
    expect(body.outputs).toHaveLength(1);
    expect(body.outputs[0]).toMatchObject({ name: 'user_embedding', datatype: 'FP32', shape: [B, expect.any(Number)] });
  });

  it('gives user representations without candidates when only user_embedding is asked for, as with them', async () => {
    worker = await startTestWorker();
    const client = createWorkerClient({ urls: [worker.url], retries: 0 });
    try {
      const withCandidates = await client.score(BASE, fixtureBatch(), Date.now() + 5000);
      const batch = { ...fixtureBatch(), T: 0, candidates: new Float32Array(0) };
      const embedded = await client.embed(BASE, batch, Date.now() + 5000);
      expect(embedded.output.T).toBe(0);
      expect(embedded.output.logits).toHaveLength(0);
      expect(embedded.output.E).toBe(withCandidates.output.E);
      expect(close(embedded.output.userEmbedding, withCandidates.output.userEmbedding)).toBe(true);
    } finally {
      await client.close();
    }
    // Leaving out the candidates while asking for logits is still an error that names them.
    const response = await fetch(`${worker.url}/v2/models/preference/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [...historyInputs()],
        outputs: [{ name: 'logits' }],
      }),
    });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toBe('inputs: missing candidates');
  });

  it("scores a user with no history (H = 0) as one masked slot: the shipped design's graph cannot take H = 0 itself", async () => {
    worker = await startTestWorker();
    const client = createWorkerClient({ urls: [worker.url], retries: 0 });
    try {
      const { T, D } = fx.shape;
      const candidates = row(0).candidates;
      const empty: ScoreBatch = {
        B: 1,
        H: 0,
        T,
        D,
        history: new Float32Array(0),
        historyLabel: new BigInt64Array(0),
        historyMask: new Uint8Array(0),
        candidates,
      };
      const masked: ScoreBatch = {
        ...empty,
        H: 1,
        history: new Float32Array(D).fill(0.5),
        historyLabel: new BigInt64Array([1n]),
        historyMask: new Uint8Array(1),
      };
      const cold = await client.score(BASE, empty, Date.now() + 5000);
      const padded = await client.score(BASE, masked, Date.now() + 5000);
      expect(cold.output.logits.every(Number.isFinite)).toBe(true);
      expect(close(cold.output.logits, padded.output.logits)).toBe(true);
      expect(close(cold.output.userEmbedding, padded.output.userEmbedding)).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('answers errors as {"error"} with 4xx', async () => {
    worker = await startTestWorker();
    const post = async (path: string, body: string) => {
      const r = await fetch(`${worker!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: r.status, body: await r.json() };
    };
    expect(await post('/v2/models/preference/infer', '{nope')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/not valid JSON/) } });
    expect(await post('/v2/models/preference/infer', '{"inputs": []}')).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/missing history/) },
    });
    const wrongDim = encodeInferRequest({ ...row(0), D: 3, history: new Float32Array(fx.shape.H * 3), candidates: new Float32Array(fx.shape.T * 3) });
    const r = await fetch(`${worker.url}/v2/models/preference/infer`, {
      method: 'POST',
      headers: { 'inference-header-content-length': String(wrongDim.headerLength) },
      body: new Uint8Array(wrongDim.body),
    });
    expect(r.status).toBe(400);
    expect((await r.json()).error).toBe('history: expected item vectors of dimension 8, got 3');
    expect((await post('/v2/models/preference/versions/5/infer', '{}')).status).toBe(404);
    // 405 names the method the route takes (RFC 9110: Allow is required on a 405).
    const wrongMethod = await fetch(`${worker.url}/v2/models/preference/infer`);
    expect([wrongMethod.status, wrongMethod.headers.get('allow')]).toEqual([405, 'POST']);
    const getOnly = await fetch(`${worker.url}/v2/health/ready`, { method: 'POST' });
    expect([getOnly.status, getOnly.headers.get('allow')]).toEqual([405, 'GET']);
    // Failed requests are counted under their endpoint, with their status.
    const text = await (await fetch(`${worker.url}/metrics`)).text();
    expect(text).toMatch(/tastegraph_worker_requests_total\{endpoint="infer",status="400"\} 3/);
    expect(text).toMatch(/tastegraph_worker_requests_total\{endpoint="infer",status="404"\} 1/);
    expect(text).toMatch(/tastegraph_worker_requests_total\{endpoint="infer",status="405"\} 1/);
    expect(text).toMatch(/tastegraph_worker_requests_total\{endpoint="ready",status="405"\} 1/);
    expect(text).not.toMatch(/endpoint="error"/);
  });
});

describe('batching, overload and deadlines', () => {
  it('merges concurrent callers into fewer session runs, with the results of unbatched runs', async () => {
    worker = await startTestWorker({ maxBatchSize: 64, maxQueueDelayMs: 20 });
    const alone = await Promise.all([0, 1, 2].map(async (b) => (await inferBinary(worker!.url, row(b))) as { output: { logits: Float32Array } }));
    const before = await sessionRuns(worker);
    const callers = Array.from({ length: 30 }, (_, i) => i % 3);
    const results = await Promise.all(callers.map((b) => inferBinary(worker!.url, row(b))));
    const runs = (await sessionRuns(worker)) - before;
    expect(runs).toBeLessThan(15);
    results.forEach((r, i) => expect(close((r as { output: { logits: Float32Array } }).output.logits, alone[callers[i]].output.logits)).toBe(true));
  });

  it('refuses a request with a bad label on its own; the callers it would have been batched with still succeed', async () => {
    worker = await startTestWorker({ maxBatchSize: 64, maxQueueDelayMs: 50 });
    const bad = row(0);
    bad.historyLabel[bad.historyMask.indexOf(1)] = 7n; // out of the model's range: it would fail the whole run
    const [refused, ...good] = await Promise.all([inferBinary(worker.url, bad), ...[0, 1, 2].map((b) => inferBinary(worker!.url, row(b)))]);
    expect(refused).toMatchObject({ status: 400, error: expect.stringMatching(/^history_label: expected 1 \(like\) or 0 \(dislike\)/) });
    expect(good.map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('answers 503 at once when the queue is full', async () => {
    worker = await startTestWorker({ maxBatchSize: 64, maxQueueDelayMs: 300, maxQueueRows: 2 });
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 6 }, () => inferBinary(worker!.url, row(0))));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200).length).toBe(2);
    expect(statuses.filter((s) => s === 503).length).toBe(4);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('drops a request whose deadline passes while it waits (504), before compute', async () => {
    worker = await startTestWorker({ maxBatchSize: 64, maxQueueDelayMs: 100 });
    const before = await sessionRuns(worker);
    const result = await inferBinary(worker.url, row(0), 1000); // 1 ms deadline, 100 ms queue delay
    expect(result).toEqual({ status: 504, error: 'deadline exceeded before compute' });
    expect((await sessionRuns(worker)) - before).toBe(0);
  });
});

describe('shutdown', () => {
  it('a worker that drains under load answers what it took and sends the rest to another worker', async () => {
    worker = await startTestWorker({ maxQueueDelayMs: 1 });
    const other = await startTestWorker({ maxQueueDelayMs: 1 });
    try {
      const client = createWorkerClient({ urls: [worker.url, other.url], retries: 2, connections: 4 });
      let stop = false;
      let answered = 0;
      const failures: string[] = [];
      const load = Array.from({ length: 8 }, async () => {
        while (!stop) {
          await client.score(BASE, row(1), Date.now() + 5000).then(
            () => answered++,
            (e: Error) => failures.push(e.message),
          );
        }
      });
      await new Promise((r) => setTimeout(r, 150));
      const started = Date.now();
      await worker.drain();
      const drainMs = Date.now() - started;
      const atDrain = answered;
      await new Promise((r) => setTimeout(r, 150));
      stop = true;
      await Promise.all(load);
      await client.close();
      expect(failures).toEqual([]);
      expect(answered).toBeGreaterThan(atDrain); // the other worker took over
      expect(drainMs).toBeLessThan(2000); // connections closed after their answers, not at the 5 s cut
    } finally {
      await other.stop();
    }
  });

  it('answers a request it had queued; one whose body was still arriving gets 503 to retry elsewhere', async () => {
    worker = await startTestWorker({ maxQueueDelayMs: 300 });
    const queued = inferBinary(worker.url, row(0)); // waits up to 300 ms for a batch
    const encoded = encodeInferRequest(row(1));
    const arriving = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        `${worker!.url}/v2/models/preference/infer`,
        {
          method: 'POST',
          headers: { 'inference-header-content-length': String(encoded.headerLength), 'content-length': String(encoded.body.length) },
        },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      req.write(encoded.body.subarray(0, 10)); // the rest comes once the drain has begun
      setTimeout(() => req.end(encoded.body.subarray(10)), 100);
    });
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const drained = worker.drain();
    expect(await queued).toMatchObject({ status: 200 });
    expect(await arriving).toEqual({ status: 503, body: JSON.stringify({ error: 'worker is shutting down; try another' }) });
    await drained;
    // Both connections closed after their answers (keep-alive would have held them to the 5 s cut).
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(fetch(`${worker.url}/v2/health/live`)).rejects.toThrow(); // no longer listening
  });
});

describe('model versions', () => {
  it('loads a new version under load without failing a request, then serves it as latest', async () => {
    worker = await startTestWorker({ maxQueueDelayMs: 1 });
    const { failures, versions } = await underLoad(worker.url, async () => {
      addVersion(worker!.store, 2);
      const loaded = await (await fetch(`${worker!.url}/v2/repository/models/preference/load`, { method: 'POST' })).json();
      expect(loaded).toEqual({ loaded: ['2'], unloaded: [], refused: [], versions: ['1', '2'] });
    });
    expect(failures).toBe(0);
    expect(versions).toEqual(new Set(['1', '2']));
    expect((await (await fetch(`${worker.url}/v2/models/preference`)).json()).parameters.served_version).toBe('2');
  });

  it('refuses a corrupt file and one that breaks the contract; the previous version keeps serving', async () => {
    worker = await startTestWorker();
    mkdirSync(join(worker.store, 'preference', '3'), { recursive: true });
    writeFileSync(join(worker.store, 'preference', '3', 'model.onnx'), 'not an onnx file');
    // A valid ONNX file without the contract's metadata.
    const stripped = join(worker.store, 'stripped.onnx');
    execFileSync(loadConfig().trainerPython, [
      '-c',
      [
        'import onnx, sys',
        `m = onnx.load(${JSON.stringify(join(fixtureModel(), 'model.onnx'))})`,
        'del m.metadata_props[:]',
        `onnx.save(m, ${JSON.stringify(stripped)})`,
      ].join('\n'),
    ]);
    addVersion(worker.store, 4, stripped);
    expect(await worker.registry.rescan()).toEqual({ loaded: [], unloaded: [] });
    expect(worker.registry.versions()).toEqual(['1']);
    expect((await inferBinary(worker.url, row(0))).status).toBe(200);
  });

  it('keeps the newest versions the policy allows: a new one unloads the oldest under load, with no failed request', async () => {
    worker = await startTestWorker({ versions: [1, 2], versionsKept: 2, maxQueueDelayMs: 1 });
    expect(worker.registry.versions()).toEqual(['1', '2']);
    const { failures } = await underLoad(worker.url, async () => {
      addVersion(worker!.store, 3);
      const loaded = await (await fetch(`${worker!.url}/v2/repository/models/preference/load`, { method: 'POST' })).json();
      expect(loaded).toEqual({ loaded: ['3'], unloaded: ['1'], refused: [], versions: ['2', '3'] });
    });
    expect(failures).toBe(0);
    expect((await fetch(`${worker.url}/v2/models/preference/versions/1`)).status).toBe(404);
    expect(await inferVersion(worker.url, '1', row(0))).toMatchObject({ status: 404, error: 'model preference has no version 1' });
  });

  it('finishes what an unloaded version had queued, then frees it', async () => {
    worker = await startTestWorker({ versions: [1, 2], versionsKept: 2, maxQueueDelayMs: 300 });
    const queued = inferVersion(worker.url, '1', row(0)); // waits up to 300 ms for a batch
    await new Promise((r) => setTimeout(r, 50));
    addVersion(worker.store, 3);
    expect(await worker.registry.rescan()).toEqual({ loaded: ['3'], unloaded: ['1'] });
    expect(await queued).toMatchObject({ status: 200, version: '1' });
    expect((await inferVersion(worker.url, '1', row(0))).status).toBe(404);
  });

  it('loads a version again when its file changes in place, under load, with no failed request; a corrupt change is refused', async () => {
    worker = await startTestWorker({ versions: [1], maxQueueDelayMs: 1 });
    const before = worker.registry.get('1');
    const file = join(worker.store, 'preference', '1', 'model.onnx');
    let after: ReturnType<TestWorker['registry']['get']>;
    const { failures } = await underLoad(worker.url, async () => {
      addVersion(worker!.store, 1); // the same bytes, written again: a new modification time
      utimesSync(file, new Date(), new Date(Date.now() + 1000));
      expect(await worker!.registry.rescan()).toEqual({ loaded: ['1'], unloaded: [] });
      after = worker!.registry.get('1');
      expect(after).not.toBe(before);
    });
    expect(failures).toBe(0);
    writeFileSync(file, 'not an onnx file');
    utimesSync(file, new Date(), new Date(Date.now() + 2000));
    expect(await worker.registry.rescan()).toEqual({ loaded: [], unloaded: [] });
    expect(worker.registry.get('1')).toBe(after); // the loaded one serves on
    expect((await inferBinary(worker.url, row(0))).status).toBe(200);
  });

  it('unloads a version whose folder left the store; a refused new file does not push out a good version', async () => {
    worker = await startTestWorker({ versions: [1, 2], versionsKept: 2 });
    for (const v of ['3', '4']) {
      mkdirSync(join(worker.store, 'preference', v), { recursive: true });
      writeFileSync(join(worker.store, 'preference', v, 'model.onnx'), 'not an onnx file');
    }
    expect(await worker.registry.rescan()).toEqual({ loaded: [], unloaded: [] });
    expect(worker.registry.versions()).toEqual(['1', '2']);
    rmSync(join(worker.store, 'preference', '2'), { recursive: true });
    expect(await worker.registry.rescan()).toEqual({ loaded: [], unloaded: ['2'] });
    expect(worker.registry.versions()).toEqual(['1']);
    expect(await inferVersion(worker.url, 'latest', row(0))).toMatchObject({ status: 200, version: '1' });
  });
});
