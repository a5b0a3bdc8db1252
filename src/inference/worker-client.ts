// The API's client for inference workers (the Open Inference Protocol over HTTP/1.1): keep-alive
// connection pools (undici), binary tensors, a deadline per call, and retries with jittered
// backoff that move on to the next worker, so one slow or dead worker costs little.
import { Pool } from 'undici';
import { encodeInferRequest, parseInferResponse } from './protocol.js';
import type { ModelInfo, Scorer } from './scorer.js';

export interface WorkerClientOptions {
  urls: readonly string[];
  model: string;
  retries: number;
  /** Connections per worker. */
  connections?: number;
  /** How long a model's metadata is trusted before it is asked again. */
  infoTtlMs?: number;
}

export class WorkerUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkerUnavailableError';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createWorkerClient(options: WorkerClientOptions): Scorer {
  const pools = options.urls.map((url) => ({ url, pool: new Pool(url, { connections: options.connections ?? 16, pipelining: 1 }) }));
  let next = 0;
  let info: { value: ModelInfo | undefined; until: number } = { value: undefined, until: 0 };

  /** Tries the workers in turn until one answers 2xx; 4xx answers are final (the request is wrong). */
  async function call(method: 'GET' | 'POST', path: string, deadline: number, body?: { body: Buffer; headerLength?: number }) {
    let lastError: unknown;
    // Round robin across calls; within a call, each retry goes to the next worker after the
    // one that failed (a counter shared by concurrent calls could send all of one call's
    // attempts to the same dead worker).
    const first = next++;
    for (let attempt = 0; attempt <= options.retries; attempt++) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const { url, pool } = pools[(first + attempt) % pools.length];
      try {
        const response = await pool.request({
          method,
          path,
          headers: body?.headerLength !== undefined ? { 'inference-header-content-length': String(body.headerLength), 'content-type': 'application/octet-stream' } : { 'content-type': 'application/json' },
          body: body?.body,
          headersTimeout: remaining,
          bodyTimeout: remaining,
        });
        const bytes = Buffer.from(await response.body.arrayBuffer());
        if (response.statusCode < 300) return { bytes, headers: response.headers };
        const message = bytes.toString('utf8').slice(0, 300);
        if (response.statusCode < 500) throw Object.assign(new Error(`worker ${url} answered ${response.statusCode}: ${message}`), { final: true });
        lastError = new Error(`worker ${url} answered ${response.statusCode}: ${message}`);
      } catch (error) {
        if ((error as { final?: boolean }).final) throw error;
        lastError = error;
      }
      // Full jitter: a random wait up to 10 ms · 2^attempt, so retries do not arrive together.
      await sleep(Math.random() * 10 * 2 ** attempt);
    }
    throw new WorkerUnavailableError(`no inference worker answered (${(lastError as Error)?.message ?? 'deadline passed'})`, { cause: lastError });
  }

  return {
    async modelInfo() {
      if (Date.now() < info.until) return info.value;
      try {
        const { bytes } = await call('GET', `/v2/models/${options.model}`, Date.now() + 1000);
        const meta = JSON.parse(bytes.toString('utf8'));
        const dim = Number(meta.inputs.find((i: { name: string }) => i.name === 'history').shape[2]);
        info = { value: { version: String(meta.parameters?.served_version ?? meta.versions.at(-1)), embeddingDim: dim }, until: Date.now() + (options.infoTtlMs ?? 5000) };
      } catch {
        info = { value: undefined, until: Date.now() + 1000 };
      }
      return info.value;
    },
    async score(batch, deadline) {
      const request = encodeInferRequest(batch, { timeoutUs: Math.max(1, deadline - Date.now()) * 1000 });
      const { bytes, headers } = await call('POST', `/v2/models/${options.model}/infer`, deadline, request);
      const length = headers['inference-header-content-length'];
      const parsed = parseInferResponse(bytes, length === undefined ? undefined : Number(length));
      return parsed;
    },
    async close() {
      await Promise.all(pools.map((p) => p.pool.close()));
    },
  };
}
