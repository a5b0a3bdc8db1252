// A model version's status on the models page, in words. Pure (no DOM), so
// test/unit/version-status.test.ts reads it.
import { when } from './dom.js';

/**
 * { text, removed, title } for a version row with `status promotedBy artifactRemovedAt`:
 * the status, "(by hand)" for a promotion by an admin, and whether retention
 * (TRAINING_KEEP_VERSIONS) removed its files, after which it can no longer be promoted.
 */
export function versionStatusWords(v) {
  const text = v.status.toLowerCase() + (v.promotedBy === 'MANUAL' ? ' (by hand)' : '');
  if (!v.artifactRemovedAt) return { text, removed: null, title: null };
  return { text, removed: ' · files removed', title: `files removed ${when(v.artifactRemovedAt)} (TRAINING_KEEP_VERSIONS): it can no longer be promoted` };
}
