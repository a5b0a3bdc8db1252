// CONTRACTS.md section 3 as code: what a preference model must look like to be served.
import type { InferenceSession } from 'onnxruntime-node';

export const INPUTS = [
  { name: 'history', type: 'float32', rank: 3 },
  { name: 'history_label', type: 'int64', rank: 2 },
  { name: 'history_mask', type: 'bool', rank: 2 },
  { name: 'candidates', type: 'float32', rank: 3 },
] as const;

export const OUTPUTS = [
  { name: 'logits', type: 'float32', rank: 3 },
  { name: 'user_embedding', type: 'float32', rank: 2 },
] as const;

export const REQUIRED_METADATA = ['embedding_dim', 'preference_tokens', 'model_version', 'trained_at', 'eval_pairwise'];

export interface ModelShape {
  embeddingDim: number;
  userEmbeddingDim: number;
}

type Meta = InferenceSession.ValueMetadata;

/** Checks a loaded session against the contract; returns its fixed dimensions or throws naming what differs. */
export function checkModelContract(inputs: readonly Meta[], outputs: readonly Meta[], metadata: Record<string, string>): ModelShape {
  const problems: string[] = [];
  const check = (kind: string, actual: readonly Meta[], expected: readonly { name: string; type: string; rank: number }[]) => {
    const names = actual.map((m) => m.name);
    if (names.join(',') !== expected.map((e) => e.name).join(',')) {
      problems.push(`${kind}: expected ${expected.map((e) => e.name).join(', ')}, got ${names.join(', ') || 'none'}`);
      return;
    }
    expected.forEach((e, i) => {
      const m = actual[i];
      if (!m.isTensor || m.type !== e.type || m.shape.length !== e.rank) {
        const got = m.isTensor ? `${m.type} of rank ${m.shape.length}` : 'a non-tensor';
        problems.push(`${kind} ${e.name}: expected ${e.type} of rank ${e.rank}, got ${got}`);
      }
    });
  };
  check('inputs', inputs, INPUTS);
  check('outputs', outputs, OUTPUTS);
  const missing = REQUIRED_METADATA.filter((k) => !(k in metadata));
  if (missing.length) problems.push(`metadata: missing ${missing.join(', ')}`);
  if (problems.length) throw new Error(`not a preference model: ${problems.join('; ')}`);
  const dim = (inputs[0] as InferenceSession.TensorValueMetadata).shape[2];
  const userDim = (outputs[1] as InferenceSession.TensorValueMetadata).shape[1];
  if (typeof dim !== 'number' || String(dim) !== metadata.embedding_dim) {
    throw new Error(`not a preference model: history's last dimension (${dim}) must be fixed and equal metadata embedding_dim (${metadata.embedding_dim})`);
  }
  return { embeddingDim: dim, userEmbeddingDim: typeof userDim === 'number' ? userDim : 0 };
}
