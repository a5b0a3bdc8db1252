import { describe, expect, it } from 'vitest';
import { judge, type Evaluation, type EvalScores } from '../../src/training/promotion-gate.js';

const scores = (pairwise: number): EvalScores => ({ pairwise, top1: 0, top2: 0, top3: 0, users: 60, pairs: 600 });

function evaluation(o: {
  candidate: number;
  serving?: number;
  global: number;
  globalKind?: 'LABELS' | 'CHOICES';
  globalSe?: number | null;
  diff?: number;
  se?: number | null;
  users?: number;
}): Evaluation {
  return {
    historySize: 8,
    heldOutUsers: o.users ?? 60,
    pairs: 600,
    candidate: scores(o.candidate),
    serving: o.serving === undefined ? null : scores(o.serving),
    globalBaseline: scores(o.global),
    globalBaselineKind: o.globalKind ?? 'LABELS',
    centroidBaseline: scores(50),
    versusServing:
      o.serving === undefined ? null : { mean: o.diff ?? o.candidate - o.serving, standardError: o.se === undefined ? 1 : o.se, users: o.users ?? 60 },
    versusGlobal: { mean: o.candidate - o.global, standardError: o.globalSe === undefined ? 1 : o.globalSe, users: o.users ?? 60 },
    versusCentroid: { mean: 0, standardError: 1, users: 60 },
    seconds: 1,
  };
}

const policy = { minHeldOutUsers: 20, noiseStandardErrors: 2 };

describe('the promotion gate', () => {
  it('promotes a first model that beats the global baseline', () => {
    const v = judge(evaluation({ candidate: 65, global: 59 }), policy);
    expect(v.promote).toBe(true);
    expect(v.reason).toBe(
      "pairwise 65.00 against the global baseline's 59.00 (paired +6.00 ± 1.00 points over 60 users; EVAL-1(8) on 60 held-out users); nothing of the tenant's own served before",
    );
  });

  it('rejects a candidate worse than the global baseline beyond noise, even with nothing serving', () => {
    // -2.1 < -2 x 1.0: beyond noise.
    expect(judge(evaluation({ candidate: 56.9, global: 59 }), policy)).toMatchObject({
      promote: false,
      reason:
        'the candidate is worse than the global baseline beyond noise: pairwise 56.90 against 59.00 (EVAL-1(8) on 60 held-out users; paired -2.10 ± 1.00 points over 60 users, more than 2 standard errors below 0)',
    });
  });

  it('promotes a first model level with the global baseline within noise: the floor is served rather than the fallback', () => {
    // -1.0 > -2 x 1.0. Where choices are mostly overall quality a good model is level with the
    // Bradley-Terry baseline, and "must beat it" would refuse it on every other night by chance.
    const v = judge(evaluation({ candidate: 58, global: 59, globalKind: 'CHOICES' }), policy);
    expect(v).toEqual({
      promote: true,
      reason:
        "pairwise 58.00 against the global baseline's 59.00 (Bradley-Terry on the choices) (paired -1.00 ± 1.00 points over 60 users; EVAL-1(8) on 60 held-out users); nothing of the tenant's own served before",
    });
  });

  it('names the Bradley-Terry baseline when it is the one a candidate falls below', () => {
    expect(judge(evaluation({ candidate: 60, global: 63, globalKind: 'CHOICES', serving: 61 }), policy).reason).toMatch(
      /^the candidate is worse than the global baseline \(Bradley-Terry on the choices\) beyond noise: pairwise 60.00 against 63.00/,
    );
  });

  it('with no standard error against the global baseline (one user), any loss counts as worse', () => {
    expect(judge(evaluation({ candidate: 58, global: 59, globalSe: null }), { ...policy, minHeldOutUsers: 1 }).promote).toBe(false);
  });

  it('rejects a candidate worse than the serving model by more than two standard errors', () => {
    // -2.1 < -2 x 1.0: beyond noise.
    const v = judge(evaluation({ candidate: 62, serving: 64.1, global: 59, diff: -2.1, se: 1 }), policy);
    expect(v.promote).toBe(false);
    expect(v.reason).toMatch(
      /^the candidate is worse than the serving model beyond noise: pairwise 62.00 against 64.10 \(EVAL-1\(8\) on 60 held-out users; paired -2.10 ± 1.00 points over 60 users, more than 2 standard errors below 0\)$/,
    );
  });

  it('promotes a candidate a little worse than the serving model, within noise', () => {
    // -1.9 > -2 x 1.0: within noise, and it beats the global baseline.
    expect(judge(evaluation({ candidate: 62, serving: 63.9, global: 59, diff: -1.9, se: 1 }), policy).promote).toBe(true);
  });

  it('with no standard error (one paired user), any loss counts as worse', () => {
    expect(judge(evaluation({ candidate: 62, serving: 63, global: 59, diff: -0.5, se: null }), { ...policy, minHeldOutUsers: 1 }).promote).toBe(false);
  });

  it('needs the minimum number of held-out users', () => {
    expect(judge(evaluation({ candidate: 80, global: 50, users: 19 }), policy)).toEqual({
      promote: false,
      reason: 'only 19 held-out users could be evaluated under EVAL-1(8); the gate needs 20',
    });
  });
});
