// What a stored representation holds. Models with preference tokens (trainer/model.py) export
// user_embedding as two halves: the user's mixed taste in coordinates of the span of the
// tokens' tastes (E/2 numbers; what users are compared and grouped by), then the tokens'
// activations (E/2 numbers, a distribution: non-negative, summing to 1; what the dashboard
// shows). Models exported before that export the activations alone; a model without tokens
// exports its encoded history, which is compared as it is and names no tokens.

export interface Layout {
  /** Numbers compared and grouped, from the start of each row. */
  tasteDim: number;
  /** Where the token activations start in each row, or null when there are none. */
  tokensAt: number | null;
  tokensDim: number;
}

function isDistribution(data: Float32Array, start: number, length: number): boolean {
  let sum = 0;
  for (let d = 0; d < length; d++) {
    const v = data[start + d];
    if (!(v >= -1e-6)) return false;
    sum += v;
  }
  return length > 0 && Math.abs(sum - 1) <= 1e-3;
}

/** The layout shared by every row of a row-major matrix of n rows of `dim` numbers. */
export function layoutOf(data: Float32Array, dim: number): Layout {
  const rows = dim > 0 ? data.length / dim : 0;
  const every = (start: number, length: number) => {
    for (let r = 0; r < rows; r++) if (!isDistribution(data, r * dim + start, length)) return false;
    return rows > 0;
  };
  if (dim % 2 === 0 && every(dim / 2, dim / 2)) return { tasteDim: dim / 2, tokensAt: dim / 2, tokensDim: dim / 2 };
  if (every(0, dim)) return { tasteDim: dim, tokensAt: 0, tokensDim: dim };
  return { tasteDim: dim, tokensAt: null, tokensDim: 0 };
}

/** Columns [start, start + length) of every row, as a matrix of its own. */
export function columns(data: Float32Array, dim: number, start: number, length: number): Float32Array {
  const rows = data.length / dim;
  const out = new Float32Array(rows * length);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * dim + start, r * dim + start + length), r * length);
  return out;
}
