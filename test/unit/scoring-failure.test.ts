// The degradedReason an app reads names the failure's kind, and the right component: scoring in
// this process (the embedded default) has no inference worker to blame.
import { describe, expect, it } from 'vitest';
import { OverloadedError, DeadlineExceededError } from '../../src/inference/batcher.js';
import { describeScoringFailure } from '../../src/inference/scoring-failure.js';
import { WorkerUnavailableError } from '../../src/inference/worker-client.js';

describe('why scoring fell back', () => {
  it('names a failed run of the model in this process as the model, not a worker', () => {
    const ort = new Error("Non-zero status code returned while running Reshape node. Name:'/encoder.0/attention/Reshape_1'");
    expect(describeScoringFailure(ort)).toBe('the model failed to run');
  });

  it('says this process shed the request when its queue was full, or ran out of time', () => {
    expect(describeScoringFailure(new OverloadedError(4096))).toBe('the model was overloaded and shed the request');
    expect(describeScoringFailure(new DeadlineExceededError())).toBe('the model did not answer in time');
  });

  it("keeps the worker's reasons for a worker's failures", () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(describeScoringFailure(new WorkerUnavailableError('no inference worker answered', { cause: refused }))).toMatch(/^no inference worker accepted/);
    const failed = new WorkerUnavailableError('no inference worker answered (socket hang up)', { cause: new Error('socket hang up') });
    expect(describeScoringFailure(failed)).toBe('the inference worker failed');
    const shed = new Error('worker http://w answered 503: {"error":"overloaded"}');
    expect(describeScoringFailure(new WorkerUnavailableError('no inference worker answered', { cause: shed }))).toMatch(/overloaded \(503\)/);
    const late = new WorkerUnavailableError('no inference worker answered (deadline passed)');
    expect(describeScoringFailure(late)).toBe('the inference worker did not answer in time');
  });
});
