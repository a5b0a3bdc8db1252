// The promotion gate, a pure function of trainer/compare.py's numbers: a candidate serves only
// if enough held-out users judged it and it is worse beyond noise (a paired difference over the
// same users more than `noiseStandardErrors` standard errors below 0) neither than the global
// baseline (the best score that ignores the user's history: issue 14's floor) nor than the model
// serving now. Level with the global baseline is enough: where personal taste adds nothing (a
// tenant whose choices are mostly overall quality) the floor itself is the best a model can
// serve, and "must beat it" would refuse such a tenant's models on every other night by chance,
// leaving the history-centroid fallback, far below the floor, in their place.

/** LABELS: logistic regression on every training label; CHOICES: Bradley-Terry on the training choices. */
export type GlobalBaselineKind = 'LABELS' | 'CHOICES';

export interface EvalScores {
  pairwise: number;
  top1: number;
  top2: number;
  top3: number;
  users: number;
  pairs: number;
}

export interface PairedDifference {
  /** Mean over users of (candidate's pairwise accuracy - the other's), in points. */
  mean: number;
  /** Its standard error; null when fewer than two users could be paired. */
  standardError: number | null;
  users: number;
}

export interface Evaluation {
  /** n of EVAL-1(n) (CONTRACTS.md section 2). */
  historySize: number;
  heldOutUsers: number;
  pairs: number;
  candidate: EvalScores;
  serving: EvalScores | null;
  globalBaseline: EvalScores;
  /** Which no-history score the global baseline is (trainer/compare.py, the stronger of the two). */
  globalBaselineKind: GlobalBaselineKind;
  centroidBaseline: EvalScores;
  versusServing: PairedDifference | null;
  versusGlobal: PairedDifference;
  versusCentroid: PairedDifference;
  seconds: number;
}

export interface GatePolicy {
  minHeldOutUsers: number;
  /** How many standard errors below zero the paired difference must fall to count as worse. */
  noiseStandardErrors: number;
}

export interface Verdict {
  promote: boolean;
  reason: string;
}

const pts = (x: number) => x.toFixed(2);
const diff = (d: PairedDifference) =>
  `${d.mean >= 0 ? '+' : ''}${pts(d.mean)} ± ${d.standardError === null ? '?' : pts(d.standardError)} points over ${d.users} users`;
/** Which floor, where it is not the label regression every tenant has. */
const kindOf = (e: Evaluation) => (e.globalBaselineKind === 'CHOICES' ? ' (Bradley-Terry on the choices)' : '');

/** Below by more than `noise` standard errors; with no standard error (one user), any loss. */
function worseBeyondNoise(d: PairedDifference, noise: number): boolean {
  return d.standardError === null ? d.mean < 0 : d.mean < -noise * d.standardError;
}

export function judge(e: Evaluation, policy: GatePolicy): Verdict {
  const at = `EVAL-1(${e.historySize}) on ${e.heldOutUsers} held-out users`;
  if (e.heldOutUsers < policy.minHeldOutUsers) {
    return {
      promote: false,
      reason: `only ${e.heldOutUsers} held-out users could be evaluated under EVAL-1(${e.historySize}); the gate needs ${policy.minHeldOutUsers}`,
    };
  }
  if (worseBeyondNoise(e.versusGlobal, policy.noiseStandardErrors)) {
    return {
      promote: false,
      reason: `the candidate is worse than the global baseline${kindOf(e)} beyond noise: pairwise ${pts(e.candidate.pairwise)} against ${pts(e.globalBaseline.pairwise)} (${at}; paired ${diff(e.versusGlobal)}, more than ${policy.noiseStandardErrors} standard errors below 0)`,
    };
  }
  if (e.serving && e.versusServing) {
    const d = e.versusServing;
    if (worseBeyondNoise(d, policy.noiseStandardErrors)) {
      return {
        promote: false,
        reason: `the candidate is worse than the serving model beyond noise: pairwise ${pts(e.candidate.pairwise)} against ${pts(e.serving.pairwise)} (${at}; paired ${diff(d)}, more than ${policy.noiseStandardErrors} standard errors below 0)`,
      };
    }
    return {
      promote: true,
      reason: `pairwise ${pts(e.candidate.pairwise)} against the serving model's ${pts(e.serving.pairwise)} (paired ${diff(d)}) and the global baseline's ${pts(e.globalBaseline.pairwise)}${kindOf(e)} (${at})`,
    };
  }
  return {
    promote: true,
    reason: `pairwise ${pts(e.candidate.pairwise)} against the global baseline's ${pts(e.globalBaseline.pairwise)}${kindOf(e)} (paired ${diff(e.versusGlobal)}; ${at}); nothing of the tenant's own served before`,
  };
}
