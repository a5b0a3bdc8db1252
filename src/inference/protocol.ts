// The Open Inference Protocol (KServe v2) infer messages for the preference model, with the
// binary tensor data extension: a JSON header of Inference-Header-Content-Length bytes, then
// the raw tensors (little-endian) in the order the header lists them. Used by the worker to
// read requests and write responses, and by the API's client to do the reverse, so both
// sides speak exactly what an NVIDIA Triton server would.
import type { ScoreBatch, ScoreOutput } from './tensors.js';

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

type Datatype = 'FP32' | 'INT64' | 'BOOL';

interface TensorHeader {
  name: string;
  shape: number[];
  datatype: Datatype;
  data?: unknown[];
  parameters?: { binary_data_size?: number; binary_data?: boolean };
}

const BYTES: Record<Datatype, number> = { FP32: 4, INT64: 8, BOOL: 1 };
const INPUT_TYPES: Record<string, Datatype> = { history: 'FP32', history_label: 'INT64', history_mask: 'BOOL', candidates: 'FP32' };
const RANKS: Record<string, number> = { history: 3, history_label: 2, history_mask: 2, candidates: 3 };
const OUTPUT_NAMES = ['logits', 'user_embedding'];

export interface InferRequest {
  id?: string;
  batch: ScoreBatch;
  /** Output names to send as binary data. */
  binaryOutputs: Set<string>;
  /** The outputs asked for, in the order to send them (all, when the request names none). */
  outputs: string[];
  /** Triton's per-request timeout, in microseconds. */
  timeoutUs?: number;
}

const flatten = (data: unknown[]): unknown[] => data.flat(Infinity as 1);

function typedFrom(datatype: Datatype, bytes: Uint8Array): Float32Array | BigInt64Array | Uint8Array {
  // Copy into aligned storage: the tensor's offset in the body need not be a multiple of 8.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (datatype === 'FP32') return new Float32Array(copy.buffer);
  if (datatype === 'INT64') return new BigInt64Array(copy.buffer);
  return copy;
}

function typedFromJson(name: string, datatype: Datatype, data: unknown[]) {
  const flat = flatten(data);
  if (datatype === 'FP32') {
    if (!flat.every((v) => typeof v === 'number')) throw new ProtocolError(`${name}: FP32 data must be numbers`);
    return Float32Array.from(flat);
  }
  if (datatype === 'INT64') {
    if (!flat.every((v) => Number.isInteger(v))) throw new ProtocolError(`${name}: INT64 data must be integers`);
    return BigInt64Array.from((flat as number[]).map(BigInt));
  }
  if (!flat.every((v) => typeof v === 'boolean')) throw new ProtocolError(`${name}: BOOL data must be true or false`);
  return Uint8Array.from(flat.map(Number));
}

/**
 * Labels must be 1 (like) or 0 (dislike) where the mask holds an interaction. Checked here
 * because a bad label would fail the model's whole run, and with it every other caller's
 * request merged into that batch. Padded slots may hold anything: they are set to 0 (the
 * arrays are this request's own copies), since the model looks labels up before masking.
 */
function checkLabels(labels: BigInt64Array, mask: Uint8Array, H: number) {
  for (let i = 0; i < labels.length; i++) {
    if (mask[i] === 0) labels[i] = 0n;
    else if (labels[i] !== 0n && labels[i] !== 1n) {
      throw new ProtocolError(
        `history_label: expected 1 (like) or 0 (dislike) where history_mask is true, got ${labels[i]} at [${Math.floor(i / H)}, ${i % H}]`,
      );
    }
  }
}

export function parseInferRequest(body: Buffer, headerLength: number | undefined): InferRequest {
  const jsonEnd = headerLength ?? body.length;
  if (headerLength !== undefined && (!Number.isInteger(headerLength) || headerLength < 0 || headerLength > body.length)) {
    throw new ProtocolError(`Inference-Header-Content-Length: ${headerLength} is outside the body of ${body.length} bytes`);
  }
  let header: { id?: string; inputs?: TensorHeader[]; outputs?: TensorHeader[]; parameters?: Record<string, unknown> };
  try {
    // Its fields are checked one by one below.
    header = JSON.parse(body.subarray(0, jsonEnd).toString('utf8')) as typeof header;
  } catch (error) {
    throw new ProtocolError(`request header is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(header.inputs)) throw new ProtocolError('inputs: expected an array of tensors');
  const tensors: Record<string, { shape: number[]; data: Float32Array | BigInt64Array | Uint8Array }> = {};
  let offset = jsonEnd;
  for (const input of header.inputs) {
    const expected = INPUT_TYPES[input?.name];
    if (!expected) throw new ProtocolError(`inputs: unknown tensor "${input?.name}"; expected ${Object.keys(INPUT_TYPES).join(', ')}`);
    if (input.datatype !== expected) throw new ProtocolError(`${input.name}: expected datatype ${expected}, got ${input.datatype}`);
    if (!Array.isArray(input.shape) || input.shape.length !== RANKS[input.name] || !input.shape.every((n) => Number.isInteger(n) && n >= 0)) {
      throw new ProtocolError(`${input.name}: expected a shape of ${RANKS[input.name]} non-negative integers, got ${JSON.stringify(input.shape)}`);
    }
    const count = input.shape.reduce((a, b) => a * b, 1);
    const size = input.parameters?.binary_data_size;
    let data;
    if (size !== undefined) {
      if (size !== count * BYTES[expected])
        throw new ProtocolError(`${input.name}: binary_data_size ${size} does not match shape ${JSON.stringify(input.shape)} of ${expected}`);
      if (offset + size > body.length) throw new ProtocolError(`${input.name}: binary data runs past the end of the body`);
      data = typedFrom(expected, body.subarray(offset, offset + size));
      offset += size;
    } else if (Array.isArray(input.data)) {
      data = typedFromJson(input.name, expected, input.data);
      if (data.length !== count) throw new ProtocolError(`${input.name}: ${data.length} values do not fill shape ${JSON.stringify(input.shape)}`);
    } else {
      throw new ProtocolError(`${input.name}: expected data or parameters.binary_data_size`);
    }
    tensors[input.name] = { shape: input.shape, data };
  }
  // A request for user representations alone (outputs: user_embedding only) may leave out the
  // candidates: the user's embedding does not depend on them, and the graph needs at least
  // one, so the worker scores one placeholder per user and answers no logits.
  const requested = Array.isArray(header.outputs) ? header.outputs.map((o) => o?.name) : [];
  const embeddingOnly = requested.length > 0 && requested.every((name) => name === 'user_embedding');
  const missing = Object.keys(INPUT_TYPES).filter((n) => !tensors[n] && !(n === 'candidates' && embeddingOnly && tensors.history));
  if (missing.length) throw new ProtocolError(`inputs: missing ${missing.join(', ')}`);
  const [B, H, D] = tensors.history.shape;
  tensors.candidates ??= { shape: [B, 1, D], data: new Float32Array(B * D) };
  const [, T, Dc] = tensors.candidates.shape;
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  if (!same(tensors.history_label.shape, [B, H]) || !same(tensors.history_mask.shape, [B, H])) {
    throw new ProtocolError(`history_label and history_mask: expected shape [${B}, ${H}] like history`);
  }
  if (tensors.candidates.shape[0] !== B || Dc !== D)
    throw new ProtocolError(`candidates: expected shape [${B}, T, ${D}], got ${JSON.stringify(tensors.candidates.shape)}`);
  // An empty batch or candidate list cannot be computed (the model reshapes along B and T).
  if (B === 0) throw new ProtocolError('history: expected at least one user (B >= 1), got shape ' + JSON.stringify(tensors.history.shape));
  if (T === 0) throw new ProtocolError('candidates: expected at least one candidate per user (T >= 1), got shape ' + JSON.stringify(tensors.candidates.shape));
  checkLabels(tensors.history_label.data as BigInt64Array, tensors.history_mask.data as Uint8Array, H);

  const wantAll = header.parameters?.binary_data_output === true;
  const binaryOutputs = new Set<string>(wantAll ? OUTPUT_NAMES : []);
  if (header.outputs !== undefined && !Array.isArray(header.outputs)) throw new ProtocolError('outputs: expected an array of requested outputs');
  for (const o of header.outputs ?? []) {
    if (!OUTPUT_NAMES.includes(o?.name)) throw new ProtocolError(`outputs: unknown tensor "${o?.name}"; expected ${OUTPUT_NAMES.join(', ')}`);
    // Per output, binary_data overrides the request-wide binary_data_output either way.
    if (o.parameters?.binary_data === true) binaryOutputs.add(o.name);
    if (o.parameters?.binary_data === false) binaryOutputs.delete(o.name);
  }
  // As in Triton: the outputs the request names, or all of them when it names none.
  const outputs = header.outputs?.length ? [...new Set(header.outputs.map((o) => o.name))] : OUTPUT_NAMES;
  const timeout = header.parameters?.timeout;
  return {
    id: typeof header.id === 'string' ? header.id : undefined,
    binaryOutputs,
    outputs,
    timeoutUs: typeof timeout === 'number' && timeout > 0 ? timeout : undefined,
    batch: {
      B,
      H,
      T,
      D,
      history: tensors.history.data as Float32Array,
      historyLabel: tensors.history_label.data as BigInt64Array,
      historyMask: tensors.history_mask.data as Uint8Array,
      candidates: tensors.candidates.data as Float32Array,
    },
  };
}

export interface EncodedMessage {
  body: Buffer;
  /** Set when the body carries binary tensors after a JSON header of this many bytes. */
  headerLength?: number;
}

function encode(json: object, binaries: Buffer[]): EncodedMessage {
  const header = Buffer.from(JSON.stringify(json));
  return binaries.length === 0 ? { body: header } : { body: Buffer.concat([header, ...binaries]), headerLength: header.length };
}

const bytesOf = (a: Float32Array | BigInt64Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

export function encodeInferResponse(
  model: string,
  version: string,
  id: string | undefined,
  output: ScoreOutput,
  binary: Set<string>,
  outputs: readonly string[] = OUTPUT_NAMES,
): EncodedMessage {
  const binaries: Buffer[] = [];
  const tensor = (name: string, shape: number[], data: Float32Array) => {
    if (binary.has(name)) {
      binaries.push(bytesOf(data));
      return { name, datatype: 'FP32', shape, parameters: { binary_data_size: data.byteLength } };
    }
    return { name, datatype: 'FP32', shape, data: Array.from(data) };
  };
  return encode(
    {
      model_name: model,
      model_version: version,
      ...(id !== undefined ? { id } : {}),
      outputs: outputs.map((name) =>
        name === 'logits' ? tensor('logits', [output.B, output.T, 2], output.logits) : tensor('user_embedding', [output.B, output.E], output.userEmbedding),
      ),
    },
    binaries,
  );
}

/**
 * The client's side: a request with every tensor as binary data, asking for binary outputs.
 * `embeddingOnly` asks for user_embedding alone and sends no candidates (the batch's T is 0).
 */
export function encodeInferRequest(batch: ScoreBatch, options: { id?: string; timeoutUs?: number; embeddingOnly?: boolean } = {}): EncodedMessage {
  const { B, H, T, D } = batch;
  const inputs: [string, Datatype, number[], Float32Array | BigInt64Array | Uint8Array][] = [
    ['history', 'FP32', [B, H, D], batch.history],
    ['history_label', 'INT64', [B, H], batch.historyLabel],
    ['history_mask', 'BOOL', [B, H], batch.historyMask],
  ];
  if (!options.embeddingOnly) inputs.push(['candidates', 'FP32', [B, T, D], batch.candidates]);
  const outputs = options.embeddingOnly ? ['user_embedding'] : ['logits', 'user_embedding'];
  return encode(
    {
      ...(options.id ? { id: options.id } : {}),
      inputs: inputs.map(([name, datatype, shape, data]) => ({ name, datatype, shape, parameters: { binary_data_size: data.byteLength } })),
      outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
      parameters: { binary_data_output: true, ...(options.timeoutUs ? { timeout: options.timeoutUs } : {}) },
    },
    inputs.map(([, , , data]) => bytesOf(data)),
  );
}

export function parseInferResponse(body: Buffer, headerLength: number | undefined): { version: string; output: ScoreOutput } {
  const jsonEnd = headerLength ?? body.length;
  const header = JSON.parse(body.subarray(0, jsonEnd).toString('utf8')) as { model_version: string; outputs: TensorHeader[] };
  let offset = jsonEnd;
  const read = (name: string) => {
    const t = header.outputs.find((o) => o.name === name);
    if (!t) throw new ProtocolError(`response lacks output ${name}`);
    const size = t.parameters?.binary_data_size;
    if (size !== undefined) {
      const data = typedFrom('FP32', body.subarray(offset, offset + size)) as Float32Array;
      offset += size;
      return { shape: t.shape, data };
    }
    return { shape: t.shape, data: Float32Array.from(flatten(t.data ?? []) as number[]) };
  };
  // Binary outputs follow the header in the order the header lists them.
  const ordered = header.outputs.map((o) => o.name);
  const results = Object.fromEntries(ordered.map((n) => [n, read(n)]));
  // No logits when only user representations were asked for.
  const user = results.user_embedding;
  if (!user) throw new ProtocolError('response lacks output user_embedding');
  const logits = results.logits ?? { shape: [user.shape[0], 0], data: new Float32Array(0) };
  return {
    version: header.model_version,
    output: { B: user.shape[0], T: logits.shape[1], E: user.shape[1], logits: logits.data, userEmbedding: user.data },
  };
}
