// Exact nearest neighbours by cosine similarity over unit-length rows: one dot product per
// row and a bounded selection. Linear in rows: 100,000 users of 10 dimensions take about a
// millisecond; see docs/taste-groups.md for where an approximate index takes over.

/** Scales every row of a row-major matrix to unit length (zero rows stay zero). */
export function normalizeRows(data: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let start = 0; start < data.length; start += dim) {
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += data[start + d] * data[start + d];
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dim; d++) out[start + d] = data[start + d] * scale;
  }
  return out;
}

export interface Neighbour {
  row: number;
  similarity: number;
}

/**
 * The `count` rows most similar to row `query` (itself excluded), most similar first; ties go
 * to the lower row, so the order is the same on every call.
 */
export function nearestRows(unit: Float32Array, dim: number, query: number, count: number): Neighbour[] {
  const n = unit.length / dim;
  const q = unit.subarray(query * dim, (query + 1) * dim);
  // A min-heap of the best `count` so far would do the same; an array kept sorted is simpler
  // and as fast for the page sizes asked (count <= 501).
  const best: Neighbour[] = [];
  let floor = -Infinity;
  for (let row = 0; row < n; row++) {
    if (row === query) continue;
    let s = 0;
    const start = row * dim;
    for (let d = 0; d < dim; d++) s += unit[start + d] * q[d];
    if (best.length === count && s <= floor) continue;
    let at = best.length;
    while (at > 0 && best[at - 1].similarity < s) at--;
    best.splice(at, 0, { row, similarity: s });
    if (best.length > count) best.pop();
    if (best.length === count) floor = best[best.length - 1].similarity;
  }
  return best;
}
