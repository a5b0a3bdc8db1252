// The API's client for inference workers (the Open Inference Protocol over HTTP/1.1): keep-alive
// connection pools (undici), binary tensors, a deadline per call, and retries with jittered
// backoff that move on to the next worker, so one slow or dead worker costs little:
// - with another worker to try, an attempt may take half the time left, so a worker that
//   accepts connections but never answers cannot use up the whole deadline;
// - a worker that fails is skipped by later calls for a while (1 s, doubling with each
//   further failure up to 30 s; Envoy calls this outlier ejection), then tried again.
import { Pool } from 'undici';
import { encodeInferRequest, parseInferResponse } from './protocol.js';
import { BASE_MODEL } from './model-names.js';
import { ModelUnavailableError, type LoadOutcome, type ModelInfo, type ModelRef, type Scorer } from './scorer.js';
import type { ScoreBatch } from './tensors.js';
import { describeScoringFailure } from './scoring-failure.js';

export interface WorkerClientOptions {
  urls: readonly string[];
  retries: number;
  /** Connections per worker. */
  connections?: number;
  /** How long a model's metadata is trusted before it is asked again. */
  infoTtlMs?: number;
  /** How long a worker is skipped after its first failure in a row (doubles with each further one). */
  ejectMs?: number;
}

interface Target {
  url: string;
  pool: Pool;
  /** Failed attempts in a row. */
  failures: number;
  /** Skipped until then, while another worker can be tried. */
  ejectedUntil: number;
}

const MAX_EJECT_MS = 30_000;

export class WorkerUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkerUnavailableError';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createWorkerClient(options: WorkerClientOptions): Scorer {
  const targets: Target[] = options.urls.map((url) => ({
    url,
    pool: new Pool(url, { connections: options.connections ?? 16, pipelining: 1 }),
    failures: 0,
    ejectedUntil: 0,
  }));
  const ejectMs = options.ejectMs ?? 1000;
  let next = 0;

  /**
   * From `start` in the rotation: the first worker neither ejected nor tried in this call,
   * else the first not tried (better than the one that just failed), else `start`'s.
   */
  function pick(start: number, tried: ReadonlySet<Target>): Target {
    const now = Date.now();
    const order = targets.map((_, i) => targets[(start + i) % targets.length]);
    return order.find((t) => t.ejectedUntil <= now && !tried.has(t)) ?? order.find((t) => !tried.has(t)) ?? order[0];
  }

  function failed(target: Target) {
    // Calls in flight when a worker dies fail together: count them as one failure.
    if (target.ejectedUntil > Date.now()) return;
    target.failures++;
    target.ejectedUntil = Date.now() + Math.min(MAX_EJECT_MS, ejectMs * 2 ** (target.failures - 1));
  }

  let info: { value: ModelInfo | undefined; until: number; error?: unknown } = { value: undefined, until: 0 };

  /** Tries the workers in turn until one answers 2xx; 4xx answers are final (the request is wrong). */
  async function call(method: 'GET' | 'POST', path: string, deadline: number, body?: { body: Buffer; headerLength?: number }) {
    let lastError: unknown;
    // Round robin across calls; within a call, each retry goes to a worker it has not tried
    // (a counter shared by concurrent calls could send all of one call's attempts to the same
    // dead worker).
    const first = next++;
    const tried = new Set<Target>();
    for (let attempt = 0; attempt <= options.retries; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const target = pick(first + attempt, tried);
      tried.add(target);
      const { url, pool } = target;
      const budget = attempt < options.retries && targets.length > 1 ? Math.max(1, Math.floor(remaining / 2)) : remaining;
      // undici's headersTimeout and bodyTimeout tick about once a second (measured: an attempt
      // given 400 ms failed after 980), so a timer of ours ends the attempt on time, and undici's
      // timeouts cancel the request itself a little later. An AbortSignal would cancel it at
      // once, but undici's handling of one cost 20-40 µs of CPU per request here.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`worker ${url} did not answer within ${budget} ms`)), budget);
      });
      const request = pool.request({
        method,
        path,
        headers:
          body?.headerLength !== undefined
            ? { 'inference-header-content-length': String(body.headerLength), 'content-type': 'application/octet-stream' }
            : { 'content-type': 'application/json' },
        body: body?.body,
        headersTimeout: budget,
        bodyTimeout: budget,
      });
      try {
        const response = await Promise.race([request, late]);
        const bytes = Buffer.from(await Promise.race([response.body.arrayBuffer(), late]));
        if (response.statusCode < 500) {
          target.failures = 0; // it answered: healthy, even if the request was wrong
          target.ejectedUntil = 0;
        }
        if (response.statusCode < 300) return { bytes, headers: response.headers };
        const message = bytes.toString('utf8').slice(0, 300);
        if (response.statusCode < 500)
          throw Object.assign(new Error(`worker ${url} answered ${response.statusCode}: ${message}`), {
            final: true,
            status: response.statusCode,
            body: message,
          });
        lastError = new Error(`worker ${url} answered ${response.statusCode}: ${message}`);
        failed(target);
      } catch (error) {
        if ((error as { final?: boolean }).final) throw error;
        lastError = error;
        failed(target);
        // An answer that comes after we gave up is read and dropped, so its connection is freed.
        request
          .then(
            (r) => r.body.dump(),
            () => {},
          )
          .catch(() => {});
      } finally {
        clearTimeout(timer);
      }
      // Full jitter: a random wait up to 10 ms · 2^attempt, so retries do not arrive together.
      await sleep(Math.random() * 10 * 2 ** attempt);
    }
    throw new WorkerUnavailableError(`no inference worker answered (${(lastError as Error)?.message ?? 'deadline passed'})`, { cause: lastError });
  }

  async function infer(model: ModelRef, batch: ScoreBatch, deadline: number, embeddingOnly: boolean) {
    const request = encodeInferRequest(batch, { timeoutUs: Math.max(1, deadline - Date.now()) * 1000, embeddingOnly });
    const path = `/v2/models/${model.name}${model.version ? `/versions/${model.version}` : ''}/infer`;
    let answer;
    try {
      answer = await call('POST', path, deadline, request);
    } catch (error) {
      // 404: not in the store; 409: in it, but its file cannot be loaded.
      const status = (error as { status?: number }).status;
      if (status === 404 || status === 409) throw new ModelUnavailableError(model, (error as { body?: string }).body ?? (error as Error).message);
      throw error;
    }
    const { bytes, headers } = answer;
    const length = headers['inference-header-content-length'];
    return parseInferResponse(bytes, length === undefined ? undefined : Number(length));
  }

  return {
    async modelInfo() {
      if (Date.now() < info.until) return info.value;
      try {
        const { bytes } = await call('GET', `/v2/models/${BASE_MODEL}`, Date.now() + 1000);
        // The worker's (or Triton's) model metadata; a field missing throws and is kept below.
        const meta = JSON.parse(bytes.toString('utf8')) as {
          inputs: { name: string; shape: number[] }[];
          versions: string[];
          parameters?: { served_version?: string };
        };
        const dim = Number(meta.inputs.find((i) => i.name === 'history')!.shape[2]);
        info = {
          value: { version: String(meta.parameters?.served_version ?? meta.versions.at(-1)), embeddingDim: dim },
          until: Date.now() + (options.infoTtlMs ?? 5000),
        };
      } catch (error) {
        // Kept, not thrown: scoring falls back and says why (unavailableReason).
        info = { value: undefined, until: Date.now() + 1000, error };
      }
      return info.value;
    },
    unavailableReason: () => (info.value === undefined && info.error !== undefined ? describeScoringFailure(info.error) : undefined),
    score: (model, batch, deadline) => infer(model, batch, deadline, false),
    embed: (model, batch, deadline) => infer(model, batch, deadline, true),
    /** Every worker, not one of them: each must hold the version before the registry sends traffic to it. */
    async load(name) {
      return Promise.all(
        targets.map(async (target): Promise<LoadOutcome> => {
          try {
            const response = await target.pool.request({
              method: 'POST',
              path: `/v2/repository/models/${name}/load`,
              headersTimeout: 60_000,
              bodyTimeout: 60_000,
            });
            const text = await response.body.text();
            if (response.statusCode < 300) return { target: target.url, ok: true, refused: false };
            const error = (() => {
              try {
                return String((JSON.parse(text) as { error?: unknown }).error);
              } catch {
                return text.slice(0, 300);
              }
            })();
            return {
              target: target.url,
              ok: false,
              refused: response.statusCode >= 400 && response.statusCode < 500,
              error: `worker ${target.url} answered ${response.statusCode}: ${error}`,
            };
          } catch (error) {
            return { target: target.url, ok: false, refused: false, error: `worker ${target.url} did not answer: ${(error as Error).message}` };
          }
        }),
      );
    },
    async close() {
      await Promise.all(targets.map((t) => t.pool.close()));
    },
  };
}
