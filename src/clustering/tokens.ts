// Whether representations are preference-token activations. The model's user embedding is
// the softmax over its preference tokens of how well each token's taste explains the user's
// history (trainer/model.py), so each row is a distribution: non-negative, summing to 1. A
// model trained without tokens exports another representation, and then no token is named.

export function isTokenDistribution(data: Float32Array, dim: number): boolean {
  if (data.length === 0 || dim === 0) return false;
  for (let start = 0; start < data.length; start += dim) {
    let sum = 0;
    for (let d = 0; d < dim; d++) {
      const v = data[start + d];
      if (!(v >= -1e-6)) return false;
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) return false;
  }
  return true;
}
