// The exported preference model, loaded by onnxruntime-node: outputs match PyTorch within
// 1e-4, and the properties CONTRACTS.md section 3 requires hold in the ONNX graph itself.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { REPOSITORY_ROOT } from '../../src/trainer/python.js';

interface Fixture {
  shape: { B: number; H: number; T: number; D: number; E: number };
  history: number[];
  history_label: number[];
  history_mask: number[];
  candidates: number[];
  logits: number[];
  user_embedding: number[];
}

let session: ort.InferenceSession;
let fx: Fixture;

/** Runs the model on plain arrays; shapes from the fixture unless given. */
async function score(input: { history: number[]; labels: number[]; mask: boolean[]; candidates: number[]; B: number; H: number; T: number }) {
  const { D } = fx.shape;
  const out = await session.run({
    history: new ort.Tensor('float32', Float32Array.from(input.history), [input.B, input.H, D]),
    history_label: new ort.Tensor('int64', BigInt64Array.from(input.labels.map(BigInt)), [input.B, input.H]),
    history_mask: new ort.Tensor('bool', Uint8Array.from(input.mask.map(Number)), [input.B, input.H]),
    candidates: new ort.Tensor('float32', Float32Array.from(input.candidates), [input.B, input.T, D]),
  });
  return { logits: Array.from(out.logits.data as Float32Array), user: Array.from(out.user_embedding.data as Float32Array), dims: out.logits.dims };
}

const fixtureInput = () => ({
  history: fx.history,
  labels: fx.history_label,
  mask: fx.history_mask.map(Boolean),
  candidates: fx.candidates,
  B: fx.shape.B,
  H: fx.shape.H,
  T: fx.shape.T,
});

function expectClose(actual: number[], expected: number[], tolerance = 1e-4) {
  expect(actual.length).toBe(expected.length);
  const worst = Math.max(...actual.map((a, i) => Math.abs(a - expected[i])));
  expect(worst).toBeLessThan(tolerance);
}

/** Exports a fixture model with these trainer.fixture flags; returns its session and PyTorch's outputs. */
async function exportFixture(flags: string[] = []): Promise<{ session: ort.InferenceSession; fx: Fixture }> {
  const dir = mkdtempSync(join(tmpdir(), 'tg-onnx-'));
  execFileSync(loadConfig().trainerPython, ['-m', 'trainer.fixture', '--out', dir, ...flags], { cwd: REPOSITORY_ROOT, stdio: 'pipe' });
  return {
    fx: JSON.parse(readFileSync(join(dir, 'fixture.json'), 'utf8')) as Fixture,
    session: await ort.InferenceSession.create(join(dir, 'model.onnx'), { executionProviders: ['cpu'] }),
  };
}

describe('exported preference model in onnxruntime-node', () => {
  beforeAll(async () => {
    ({ session, fx } = await exportFixture());
  });

  it('has the contract inputs and outputs', () => {
    expect(session.inputNames).toEqual(['history', 'history_label', 'history_mask', 'candidates']);
    expect(session.outputNames).toEqual(['logits', 'user_embedding']);
  });

  it('matches PyTorch within 1e-4, padded rows included', async () => {
    const out = await score(fixtureInput());
    expect(out.dims).toEqual([fx.shape.B, fx.shape.T, 2]);
    expectClose(out.logits, fx.logits);
    expectClose(out.user, fx.user_embedding);
  });

  it("a candidate's logits do not depend on the other candidates or their order", async () => {
    const { D, T } = fx.shape;
    const one = fixtureInput();
    const row0 = { ...one, B: 1, history: one.history.slice(0, one.H * D), labels: one.labels.slice(0, one.H), mask: one.mask.slice(0, one.H) };
    const all = await score({ ...row0, candidates: one.candidates.slice(0, T * D) });
    const third = await score({ ...row0, T: 1, candidates: one.candidates.slice(2 * D, 3 * D) });
    expectClose(third.logits, all.logits.slice(4, 6), 1e-5);
    const reversed: number[] = [];
    for (let t = T - 1; t >= 0; t--) reversed.push(...one.candidates.slice(t * D, (t + 1) * D));
    const back = await score({ ...row0, candidates: reversed });
    const unreversed: number[] = [];
    for (let t = T - 1; t >= 0; t--) unreversed.push(...back.logits.slice(t * 2, t * 2 + 2));
    expectClose(unreversed, all.logits, 1e-5);
  });

  it('does not depend on the order of the history, and padded slots change nothing', async () => {
    const { D, T } = fx.shape;
    const one = fixtureInput();
    const H = one.H;
    const row0 = {
      ...one,
      B: 1,
      history: one.history.slice(0, H * D),
      labels: one.labels.slice(0, H),
      mask: one.mask.slice(0, H),
      candidates: one.candidates.slice(0, T * D),
    };
    const base = await score(row0);
    const order = [3, 0, 5, 1, 4, 2];
    const shuffled = await score({
      ...row0,
      history: order.flatMap((i) => row0.history.slice(i * D, (i + 1) * D)),
      labels: order.map((i) => row0.labels[i]),
    });
    expectClose(shuffled.logits, base.logits, 1e-5);
    expectClose(shuffled.user, base.user, 1e-5);
    // Three more slots of large garbage, masked out.
    const padded = await score({
      ...row0,
      H: H + 3,
      history: [...row0.history, ...Array.from({ length: 3 * D }, (_, i) => 1000 * Math.sin(i))],
      labels: [...row0.labels, 1, 0, 1],
      mask: [...row0.mask, false, false, false],
    });
    expectClose(padded.logits, base.logits, 1e-5);
    expectClose(padded.user, base.user, 1e-5);
  });

  it('takes any batch, history and candidate count', async () => {
    const { D } = fx.shape;
    const B = 4;
    const H = 16;
    const T = 50;
    const out = await score({
      B,
      H,
      T,
      history: Array.from({ length: B * H * D }, (_, i) => Math.cos(i)),
      labels: Array.from({ length: B * H }, (_, i) => i % 2),
      mask: Array.from({ length: B * H }, () => true),
      candidates: Array.from({ length: B * T * D }, (_, i) => Math.sin(i)),
    });
    expect(out.dims).toEqual([B, T, 2]);
    expect(out.logits.every(Number.isFinite)).toBe(true);
  });
});

// The designs measured for issue 14 export as well: the user's regression fitted in the graph
// (unrolled gradient steps), the global floor, the paper's token attention, the network
// averaged with the per-user regression (trainer --ensemble), several networks averaged
// (trainer --networks), remembered items' like rates added (trainer --item-rates), the co-likes
// with the history (trainer --co-likes), latent classes of users weighed by the history
// (trainer --latent-classes), and the global pairwise preference judged against look-alikes
// (trainer --choice-prior).
describe.each([
  ['the user fit', ['--user-fit', '20']],
  ['the regression ensemble', ['--ensemble', '0.5']],
  ['the global floor', ['--global-floor']],
  ['the tokens as keys and values only', ['--token-attention', 'cross']],
  ['two networks averaged, with the regression ensemble', ['--networks', '2', '--ensemble', '0.5']],
  ["the items' like rates, over the regression ensemble", ['--ensemble', '0.5', '--item-rates', '0.8']],
  ['the choice prior, over the like rates and the ensemble', ['--ensemble', '0.5', '--item-rates', '0.8', '--choice-prior', '1.5']],
  [
    'the co-likes, over the like rates and the ensemble, under the choice prior',
    ['--ensemble', '0.5', '--item-rates', '0.8', '--co-likes', '2', '--choice-prior', '1.5'],
  ],
  [
    'the latent classes, over the co-likes, the like rates and the ensemble, under the choice prior',
    ['--ensemble', '0.5', '--item-rates', '0.8', '--co-likes', '2', '--latent-classes', '1.5', '--choice-prior', '1.5'],
  ],
])('exported model with %s', (_name, flags) => {
  beforeAll(async () => {
    ({ session, fx } = await exportFixture(flags));
  });

  it('matches PyTorch within 1e-4, padded rows included', async () => {
    const out = await score(fixtureInput());
    expectClose(out.logits, fx.logits);
    expectClose(out.user, fx.user_embedding);
  });
});
