// A 2-D picture of the users: their representations projected on the two directions of
// largest variance (principal components), found by power iteration on the covariance
// matrix (dim x dim, so the cost is one pass over the points plus dim^2 work per iteration).
import type { Points } from './points.js';

export interface Projection {
  /** n rows of (x, y). */
  coordinates: Float32Array;
  /** Share of the total variance each axis explains. */
  explained: [number, number];
}

export function project2d(points: Points, iterations = 200): Projection {
  const { n, dim, data } = points;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += data[i * dim + d];
  for (let d = 0; d < dim; d++) mean[d] /= Math.max(n, 1);
  const cov = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) centred[d] = data[i * dim + d] - mean[d];
    for (let a = 0; a < dim; a++) {
      const ca = centred[a];
      if (ca === 0) continue;
      for (let b = a; b < dim; b++) cov[a * dim + b] += ca * centred[b];
    }
  }
  for (let a = 0; a < dim; a++) for (let b = a; b < dim; b++) cov[b * dim + a] = cov[a * dim + b];
  let trace = 0;
  for (let d = 0; d < dim; d++) trace += cov[d * dim + d];

  const axes: Float64Array[] = [];
  const values: number[] = [];
  for (let axis = 0; axis < 2; axis++) {
    // A fixed, non-degenerate start keeps the picture the same from run to run.
    let v = Float64Array.from({ length: dim }, (_, d) => 1 + d / dim);
    let value = 0;
    for (const u of axes) orthogonalize(v, u);
    scale(v, 1 / norm(v));
    for (let it = 0; it < iterations; it++) {
      const next = new Float64Array(dim);
      for (let a = 0; a < dim; a++) {
        let s = 0;
        for (let b = 0; b < dim; b++) s += cov[a * dim + b] * v[b];
        next[a] = s;
      }
      for (const u of axes) orthogonalize(next, u);
      value = norm(next);
      // No variance left off the axes found: any orthogonal direction will do (all project to 0).
      if (value <= 1e-12 * trace) {
        value = 0;
        break;
      }
      scale(next, 1 / value);
      v = next;
    }
    // Sign convention: the largest component is positive, so reruns do not mirror the picture.
    let largest = 0;
    for (let d = 1; d < dim; d++) if (Math.abs(v[d]) > Math.abs(v[largest])) largest = d;
    if (v[largest] < 0) for (let d = 0; d < dim; d++) v[d] = -v[d];
    axes.push(v);
    values.push(value);
  }

  const coordinates = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    for (let axis = 0; axis < 2; axis++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += (data[i * dim + d] - mean[d]) * axes[axis][d];
      coordinates[i * 2 + axis] = s;
    }
  }
  return { coordinates, explained: [trace > 0 ? values[0] / trace : 0, trace > 0 ? values[1] / trace : 0] };
}

function norm(v: Float64Array): number {
  let s = 0;
  for (let d = 0; d < v.length; d++) s += v[d] * v[d];
  return Math.sqrt(s);
}

function scale(v: Float64Array, by: number) {
  for (let d = 0; d < v.length; d++) v[d] *= by;
}

function orthogonalize(v: Float64Array, u: Float64Array) {
  let dot = 0;
  for (let d = 0; d < v.length; d++) dot += v[d] * u[d];
  for (let d = 0; d < v.length; d++) v[d] -= dot * u[d];
}
