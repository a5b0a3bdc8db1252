// The inference worker's HTTP server: the Open Inference Protocol v2 (KServe), so that an
// NVIDIA Triton server can take its place. Routes:
//   GET  /v2/health/live, /v2/health/ready, /v2
//   GET  /v2/models/{name}[/versions/{v}], /v2/models/{name}[/versions/{v}]/ready
//   POST /v2/models/{name}[/versions/{v}]/infer        (JSON or binary tensor data)
//   POST /v2/repository/index                           (Triton's repository API: every version in the store, READY if loaded)
//   POST /v2/repository/models/{name}/load              (load what the store holds now)
//   POST /v2/repository/models/{name}/unload            (a tenant's model leaves memory; it loads again on next use)
// Models: the base model "preference", and each tenant's "tenant-<id>", loaded on first use.
//   GET  /metrics                                        (Prometheus)
// Errors are {"error": "..."} with a 4xx/5xx status (405 names the methods in Allow); a full
// queue answers 503 at once.
// Shutting down (drain()), it answers what it has taken, refuses the rest with 503 (clients
// retry another worker) and reports not ready, so a rolling deploy loses no request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import { DeadlineExceededError, OverloadedError } from './batcher.js';
import { BaseModelUnloadError, type ModelStore } from './model-store.js';
import { BASE_MODEL } from './model-names.js';
import { ModelNotFoundError, ModelRefusedError } from './tenant-models.js';
import { encodeInferResponse, parseInferRequest, ProtocolError } from './protocol.js';
import type { WorkerMetrics } from './worker-metrics.js';

export interface WorkerServerOptions {
  store: ModelStore;
  metrics: WorkerMetrics;
  log: Logger;
  maxBodyBytes: number;
  /** Deadline for a request that names none (Triton's parameters.timeout, in microseconds). */
  defaultTimeoutMs: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Response headers this error needs (Allow, on a 405). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const MODEL_ROUTE = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?$/;
const REPOSITORY_MODEL_ROUTE = /^\/v2\/repository\/models\/([^/]+)\/(load|unload)$/;
const FIXED_ROUTES: Record<string, { endpoint: string; method: 'GET' | 'POST' }> = {
  '/v2/health/live': { endpoint: 'live', method: 'GET' },
  '/v2/health/ready': { endpoint: 'ready', method: 'GET' },
  '/v2': { endpoint: 'server', method: 'GET' },
  '/metrics': { endpoint: 'metrics', method: 'GET' },
  '/v2/repository/index': { endpoint: 'repository_index', method: 'POST' },
};

/**
 * The route of a request (its metrics label) and the one method it takes, known before it is
 * handled, so that a failed request is counted under its endpoint with its status.
 */
function routeOf(path: string): { endpoint: string; method: 'GET' | 'POST' } | undefined {
  const fixed = FIXED_ROUTES[path];
  if (fixed) return fixed;
  const repository = REPOSITORY_MODEL_ROUTE.exec(path);
  if (repository) return { endpoint: repository[2], method: 'POST' };
  const model = MODEL_ROUTE.exec(path);
  if (!model) return undefined;
  if (model[3] === '/infer') return { endpoint: 'infer', method: 'POST' };
  return { endpoint: model[3] === '/ready' ? 'model_ready' : 'model_metadata', method: 'GET' };
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `request body exceeds ${limit} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

class ShuttingDownError extends Error {
  constructor() {
    super('worker is shutting down; try another');
  }
}

export interface WorkerServer extends Server {
  listenOn(port: number, host: string): Promise<string>;
  /**
   * Stops taking requests and resolves once every connection has closed: requests already
   * taken are answered, later ones on open connections get 503 and the connection closes.
   * Past `timeoutMs`, the remaining connections are cut.
   */
  drain(timeoutMs: number): Promise<void>;
}

export function createWorkerServer(options: WorkerServerOptions): WorkerServer {
  const { store, metrics, log } = options;
  let shuttingDown = false;
  /**
   * Called just before each answer is written: once the drain has begun, the connection is
   * told to close after it, so the server can finish closing without waiting out keep-alive.
   * (Checked at the write rather than tracking every open response: no work per request.)
   */
  function closeIfDraining(res: ServerResponse) {
    if (shuttingDown) res.setHeader('connection', 'close');
  }

  /** The version asked for (the served one when none): 404 if it is not in the store, 409 if it cannot load. */
  const servedOr404 = (name: string, version: string | undefined) => store.acquire(name, version);

  async function modelMetadata(name: string, version: string | undefined) {
    const model = await servedOr404(name, version);
    const D = model.session.embeddingDim;
    return {
      name,
      versions: store.versions(name),
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'history', datatype: 'FP32', shape: [-1, -1, D] },
        { name: 'history_label', datatype: 'INT64', shape: [-1, -1] },
        { name: 'history_mask', datatype: 'BOOL', shape: [-1, -1] },
        { name: 'candidates', datatype: 'FP32', shape: [-1, -1, D] },
      ],
      outputs: [
        { name: 'logits', datatype: 'FP32', shape: [-1, -1, 2] },
        { name: 'user_embedding', datatype: 'FP32', shape: [-1, model.session.userEmbeddingDim || -1] },
      ],
      parameters: { served_version: model.session.version, ...model.session.metadata },
    };
  }

  async function infer(req: IncomingMessage, name: string, version: string | undefined, res: ServerResponse) {
    await servedOr404(name, version); // an unknown version is a 404 whatever the body holds
    const body = await readBody(req, options.maxBodyBytes);
    const headerLength = req.headers['inference-header-content-length'];
    const request = parseInferRequest(body, headerLength === undefined ? undefined : Number(headerLength));
    if (shuttingDown) throw new ShuttingDownError(); // the models may be unloading now
    // Looked up again now, and submitted to in the same synchronous step after it: a version
    // being unloaded leaves the store before its batcher drains, so it gets nothing new.
    const model = await servedOr404(name, version);
    if (request.batch.D !== model.session.embeddingDim) {
      throw new HttpError(400, `history: expected item vectors of dimension ${model.session.embeddingDim}, got ${request.batch.D}`);
    }
    const deadline = Date.now() + (request.timeoutUs ? request.timeoutUs / 1000 : options.defaultTimeoutMs);
    // A request for representations only (taste groups' background work) waits behind scoring.
    const background = request.outputs.length === 1 && request.outputs[0] === 'user_embedding';
    const output = await model.batcher.submit(request.batch, deadline, { background });
    const reply = encodeInferResponse(name, model.session.version, request.id, output, request.binaryOutputs, request.outputs);
    if (reply.headerLength !== undefined) {
      res.setHeader('inference-header-content-length', reply.headerLength);
      res.setHeader('content-type', 'application/octet-stream');
    } else res.setHeader('content-type', 'application/json');
    closeIfDraining(res);
    res.end(reply.body);
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string, endpoint: string): Promise<void> {
    const json = (status: number, body: unknown) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      closeIfDraining(res);
      res.end(JSON.stringify(body));
    };
    switch (endpoint) {
      case 'live':
        return json(200, { live: true });
      case 'ready': {
        const ready = !shuttingDown && store.baseReady();
        return json(ready ? 200 : 503, { ready });
      }
      case 'server':
        return json(200, { name: 'tastegraph-worker', version: '1', extensions: ['binary_tensor_data', 'model_repository'] });
      case 'metrics': {
        const latest = store.base.get();
        metrics.queueRows.set(latest?.batcher.queued ?? 0);
        metrics.modelInfo.reset();
        if (latest) metrics.modelInfo.set({ model: BASE_MODEL, version: latest.session.version }, 1);
        const held = store.tenants.stats();
        metrics.tenantModels.set(held.models);
        metrics.tenantModelBytes.set(held.bytes);
        res.setHeader('content-type', metrics.registry.contentType);
        const text = await metrics.registry.metrics();
        closeIfDraining(res);
        return void res.end(text);
      }
      case 'repository_index': {
        // Triton's body: {"ready": true} lists only the versions ready now; an empty body is {}.
        const body = await readBody(req, 64 * 1024);
        let ready = false;
        if (body.length) {
          try {
            ready = (JSON.parse(body.toString('utf8')) as { ready?: unknown }).ready === true;
          } catch {
            throw new HttpError(400, 'repository index: the body must be JSON, such as {"ready": true}');
          }
        }
        const index = await store.index();
        return json(200, ready ? index.filter((e) => e.state === 'READY') : index);
      }
      case 'load': {
        const result = await store.load(REPOSITORY_MODEL_ROUTE.exec(path)![1]);
        // Like Triton, a load that could not load the version to serve is an error (400); the
        // versions loaded before keep serving.
        const refused = result.refused.find((r) => r.version === result.serving);
        if (refused) return json(400, { error: refused.error, ...result });
        return json(200, result);
      }
      case 'unload':
        return json(200, await store.unload(REPOSITORY_MODEL_ROUTE.exec(path)![1]));
    }
    const [, name, version] = MODEL_ROUTE.exec(path)!;
    if (endpoint === 'infer') {
      if (shuttingDown) throw new ShuttingDownError();
      return infer(req, name, version, res);
    }
    if (endpoint === 'model_ready') {
      // Triton: ready means loaded. Asking does not load a tenant's model.
      const ready =
        name === BASE_MODEL ? store.base.get(version) !== undefined : version ? store.tenants.isLoaded(name, version) : store.tenants.versions(name).length > 0;
      return json(ready ? 200 : 404, { name, ready });
    }
    return json(200, await modelMetadata(name, version));
  }

  /** Routes a request to its endpoint, or refuses it: 404 for no route, 405 (with Allow) for another method. */
  async function handle(req: IncomingMessage, res: ServerResponse, path: string, endpoint: string, method: string): Promise<void> {
    if (endpoint === 'unknown') throw new HttpError(404, `no route for ${req.method} ${path}`);
    if (req.method !== method) throw new HttpError(405, `${path} takes ${method}`, { allow: method });
    return route(req, res, path, endpoint);
  }

  const server = createServer((req, res) => {
    const stop = metrics.latency.startTimer();
    const path = new URL(req.url ?? '/', 'http://worker').pathname;
    const { endpoint, method } = routeOf(path) ?? { endpoint: 'unknown', method: 'GET' };
    handle(req, res, path, endpoint, method)
      .then(() => {
        metrics.requests.inc({ endpoint, status: res.statusCode });
        stop({ endpoint });
      })
      .catch((error: Error) => {
        const status =
          error instanceof HttpError || error instanceof ModelNotFoundError || error instanceof ModelRefusedError || error instanceof BaseModelUnloadError
            ? error.status
            : error instanceof ProtocolError
              ? 400
              : error instanceof OverloadedError || error instanceof ShuttingDownError
                ? 503
                : error instanceof DeadlineExceededError
                  ? 504
                  : 500;
        if (status === 500) {
          log.error({ err: error, url: req.url }, 'inference request failed');
        }
        metrics.requests.inc({ endpoint, status });
        stop({ endpoint });
        if (res.headersSent) return void res.destroy();
        res.statusCode = status;
        if (error instanceof HttpError) for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
        res.setHeader('content-type', 'application/json');
        closeIfDraining(res);
        res.end(JSON.stringify({ error: status === 500 ? 'internal error' : error.message }));
      });
  });
  return Object.assign(server, {
    listenOn: (port: number, host: string) =>
      new Promise<string>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(`http://${host}:${(server.address() as AddressInfo).port}`));
      }),
    drain: (timeoutMs: number) =>
      new Promise<void>((resolve) => {
        shuttingDown = true;
        const cut = setTimeout(() => server.closeAllConnections(), timeoutMs);
        server.close(() => {
          clearTimeout(cut);
          resolve();
        });
        server.closeIdleConnections(); // busy ones close after their response (connection: close)
      }),
  });
}
