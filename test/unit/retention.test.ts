import { describe, expect, it } from 'vitest';
import type { RetentionRow } from '../../src/repositories/model-registry.repository.js';
import { artifactsToRemove } from '../../src/training/retention.js';

const at = (day: number) => new Date(Date.UTC(2026, 11, day));
const row = (version: number, status: RetentionRow['status'], promotedDay?: number, removedDay?: number): RetentionRow => ({
  version,
  status,
  promotedAt: promotedDay === undefined ? null : at(promotedDay),
  artifactRemovedAt: removedDay === undefined ? null : at(removedDay),
});

describe('artifactsToRemove', () => {
  // 1 and 2 served, then 5; 3, 4 and 6-8 were never promoted.
  const versions = [
    row(1, 'RETIRED', 1),
    row(2, 'RETIRED', 2),
    row(3, 'REJECTED'),
    row(4, 'FAILED'),
    row(5, 'PROMOTED', 5),
    row(6, 'REJECTED'),
    row(7, 'REJECTED'),
    row(8, 'REJECTED'),
  ];

  it('keeps the newest, the serving version and the one that served before it', () => {
    expect(artifactsToRemove(versions, 2)).toEqual([1, 3, 4, 6]);
    expect(artifactsToRemove(versions, 5)).toEqual([1, 3]);
    expect(artifactsToRemove(versions, 100)).toEqual([]);
  });

  it('takes "the one before" from promotion times, not version numbers (a rollback by hand promotes an older version)', () => {
    // 2 served, then 1 was promoted back by hand, then 5: the one before 5 is 1.
    const rolledBack = versions.map((v) => (v.version === 1 ? row(1, 'RETIRED', 3) : v));
    expect(artifactsToRemove(rolledBack, 1)).toEqual([2, 3, 4, 6, 7]);
  });

  it('never removes a candidate still being judged, nor what is gone already', () => {
    const judging = [...versions.filter((v) => v.version !== 3), row(3, 'CANDIDATE')];
    expect(artifactsToRemove(judging, 2)).toEqual([1, 4, 6]);
    const partlyGone = versions.map((v) => (v.version === 1 ? row(1, 'RETIRED', 1, 6) : v));
    expect(artifactsToRemove(partlyGone, 2)).toEqual([3, 4, 6]);
  });

  it('keeps every version at 0, and has nothing to remove without versions', () => {
    expect(artifactsToRemove(versions, 0)).toEqual([]);
    expect(artifactsToRemove([], 3)).toEqual([]);
  });
});
