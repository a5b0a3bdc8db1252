// The promotion gate, a pure function of trainer/compare.py's numbers: a candidate serves only
// if enough held-out users judged it, it beats the global baseline (a model that ignores the
// user's history), and it is not worse than the model serving now beyond noise (a paired
// difference over the same users more than `noiseStandardErrors` standard errors below 0).

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

export function judge(e: Evaluation, policy: GatePolicy): Verdict {
  const at = `EVAL-1(${e.historySize}) on ${e.heldOutUsers} held-out users`;
  if (e.heldOutUsers < policy.minHeldOutUsers) {
    return {
      promote: false,
      reason: `only ${e.heldOutUsers} held-out users could be evaluated under EVAL-1(${e.historySize}); the gate needs ${policy.minHeldOutUsers}`,
    };
  }
  if (!(e.candidate.pairwise > e.globalBaseline.pairwise)) {
    return {
      promote: false,
      reason: `the candidate does not beat the global baseline: pairwise ${pts(e.candidate.pairwise)} against ${pts(e.globalBaseline.pairwise)} (${at}; paired ${diff(e.versusGlobal)})`,
    };
  }
  if (e.serving && e.versusServing) {
    const d = e.versusServing;
    const worse = d.standardError === null ? d.mean < 0 : d.mean < -policy.noiseStandardErrors * d.standardError;
    if (worse) {
      return {
        promote: false,
        reason: `the candidate is worse than the serving model beyond noise: pairwise ${pts(e.candidate.pairwise)} against ${pts(e.serving.pairwise)} (${at}; paired ${diff(d)}, more than ${policy.noiseStandardErrors} standard errors below 0)`,
      };
    }
    return {
      promote: true,
      reason: `pairwise ${pts(e.candidate.pairwise)} against the serving model's ${pts(e.serving.pairwise)} (paired ${diff(d)}) and the global baseline's ${pts(e.globalBaseline.pairwise)} (${at})`,
    };
  }
  return {
    promote: true,
    reason: `pairwise ${pts(e.candidate.pairwise)} against the global baseline's ${pts(e.globalBaseline.pairwise)} (paired ${diff(e.versusGlobal)}; ${at}); nothing of the tenant's own served before`,
  };
}
