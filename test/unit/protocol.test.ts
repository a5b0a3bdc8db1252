import { describe, expect, it } from 'vitest';
import { encodeInferRequest, encodeInferResponse, parseInferRequest, parseInferResponse, ProtocolError } from '../../src/inference/protocol.js';
import { userBatch } from '../../src/inference/tensors.js';

const batch = userBatch(
  2,
  [
    { vector: [0.5, -1], like: true },
    { vector: [2, 3], like: false },
  ],
  [
    [1, 2],
    [3, 4],
    [5, 6],
  ],
);

describe('Open Inference Protocol messages', () => {
  it('round-trips a binary request, tensors byte for byte', () => {
    const encoded = encodeInferRequest(batch, { id: 'r1', timeoutUs: 5000 });
    expect(encoded.headerLength).toBeGreaterThan(0);
    const parsed = parseInferRequest(encoded.body, encoded.headerLength);
    expect(parsed.id).toBe('r1');
    expect(parsed.timeoutUs).toBe(5000);
    expect(parsed.binaryOutputs).toEqual(new Set(['logits', 'user_embedding']));
    expect(Array.from(parsed.batch.history)).toEqual([0.5, -1, 2, 3]);
    expect(Array.from(parsed.batch.historyLabel)).toEqual([1n, 0n]);
    expect(Array.from(parsed.batch.historyMask)).toEqual([1, 1]);
    expect(Array.from(parsed.batch.candidates)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reads JSON tensors, nested or flat', () => {
    const body = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'history', datatype: 'FP32', shape: [1, 1, 2], data: [[[1, 2]]] },
          { name: 'history_label', datatype: 'INT64', shape: [1, 1], data: [1] },
          { name: 'history_mask', datatype: 'BOOL', shape: [1, 1], data: [true] },
          { name: 'candidates', datatype: 'FP32', shape: [1, 2, 2], data: [3, 4, 5, 6] },
        ],
      }),
    );
    const parsed = parseInferRequest(body, undefined);
    expect([parsed.batch.B, parsed.batch.H, parsed.batch.T, parsed.batch.D]).toEqual([1, 1, 2, 2]);
    expect(parsed.binaryOutputs.size).toBe(0);
  });

  it('names what is wrong', () => {
    const bad = (inputs: unknown[]) => () => parseInferRequest(Buffer.from(JSON.stringify({ inputs })), undefined);
    const ok = (name: string, datatype: string, shape: number[], data: unknown[]) => ({ name, datatype, shape, data });
    const h = ok('history', 'FP32', [1, 1, 2], [1, 2]);
    const l = ok('history_label', 'INT64', [1, 1], [1]);
    const m = ok('history_mask', 'BOOL', [1, 1], [true]);
    const c = ok('candidates', 'FP32', [1, 1, 2], [1, 2]);
    expect(bad([h, l, m])).toThrow('inputs: missing candidates');
    expect(bad([h, l, m, { ...c, datatype: 'FP64' }])).toThrow('candidates: expected datatype FP32, got FP64');
    expect(bad([h, l, m, { ...c, data: [1] }])).toThrow('candidates: 1 values do not fill shape [1,1,2]');
    expect(bad([h, l, m, ok('candidates', 'FP32', [1, 1, 3], [1, 2, 3])])).toThrow(/candidates: expected shape \[1, T, 2\]/);
    expect(bad([h, l, m, c, ok('extra', 'FP32', [1], [1])])).toThrow(/unknown tensor "extra"/);
    expect(bad([h, ok('history_label', 'INT64', [1, 1], [7]), m, c])).toThrow(
      'history_label: expected 1 (like) or 0 (dislike) where history_mask is true, got 7 at [0, 0]',
    );
    expect(bad([h, ok('history_label', 'INT64', [1, 1], [-1]), m, c])).toThrow(/history_label: .* got -1/);
    expect(bad([h, l, m, ok('candidates', 'FP32', [1, 0, 2], [])])).toThrow('candidates: expected at least one candidate per user (T >= 1), got shape [1,0,2]');
    const none = (name: string, datatype: string, shape: number[]) => ok(name, datatype, shape, []);
    expect(
      bad([
        none('history', 'FP32', [0, 1, 2]),
        none('history_label', 'INT64', [0, 1]),
        none('history_mask', 'BOOL', [0, 1]),
        none('candidates', 'FP32', [0, 1, 2]),
      ]),
    ).toThrow(/history: expected at least one user \(B >= 1\)/);
    expect(() => parseInferRequest(Buffer.from(JSON.stringify({ inputs: [h, l, m, c], outputs: [{ name: 'scores' }] })), undefined)).toThrow(
      'outputs: unknown tensor "scores"; expected logits, user_embedding',
    );
    expect(() => parseInferRequest(Buffer.from('{oops'), undefined)).toThrow(ProtocolError);
    expect(() => parseInferRequest(Buffer.from('{}'), 99)).toThrow(/outside the body/);
  });

  it('accepts any label in a padded slot and passes it on as 0', () => {
    const padded = userBatch(
      2,
      [
        { vector: [1, 2], like: true },
        { vector: [0, 0], like: false },
      ],
      [[1, 2]],
    );
    padded.historyMask[1] = 0;
    padded.historyLabel[1] = 9n; // padding may hold anything
    const encoded = encodeInferRequest(padded);
    expect(Array.from(parseInferRequest(encoded.body, encoded.headerLength).batch.historyLabel)).toEqual([1n, 0n]);
  });

  it('reads which outputs a request wants, and in which encoding', () => {
    const parse = (extra: object) => {
      const encoded = encodeInferRequest(batch);
      const header = JSON.parse(encoded.body.subarray(0, encoded.headerLength).toString());
      const json = Buffer.from(JSON.stringify({ ...header, ...extra }));
      return parseInferRequest(Buffer.concat([json, encoded.body.subarray(encoded.headerLength)]), json.length);
    };
    expect(parse({}).outputs).toEqual(['logits', 'user_embedding']);
    const one = parse({ outputs: [{ name: 'logits', parameters: { binary_data: false } }] });
    expect(one.outputs).toEqual(['logits']);
    expect(one.binaryOutputs).toEqual(new Set(['user_embedding'])); // logits as JSON, despite binary_data_output
    const output = { B: 1, T: 3, E: 2, logits: Float32Array.from([1, 2, 3, 4, 5, 6]), userEmbedding: Float32Array.from([0.25, 0.75]) };
    const reply = JSON.parse(encodeInferResponse('preference', '1', undefined, output, one.binaryOutputs, one.outputs).body.toString());
    expect(reply.outputs).toEqual([{ name: 'logits', datatype: 'FP32', shape: [1, 3, 2], data: [1, 2, 3, 4, 5, 6] }]);
  });

  it('round-trips a response, binary or JSON', () => {
    const output = { B: 1, T: 3, E: 2, logits: Float32Array.from([1, 2, 3, 4, 5, 6]), userEmbedding: Float32Array.from([0.25, 0.75]) };
    for (const binary of [new Set(['logits', 'user_embedding']), new Set<string>()]) {
      const encoded = encodeInferResponse('preference', '3', 'r', output, binary);
      const parsed = parseInferResponse(encoded.body, encoded.headerLength);
      expect(parsed.version).toBe('3');
      expect(Array.from(parsed.output.logits)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(Array.from(parsed.output.userEmbedding)).toEqual([0.25, 0.75]);
    }
  });
});
