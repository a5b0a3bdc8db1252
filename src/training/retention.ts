// Which versions' files the tenants' store can let go (TRAINING_KEEP_VERSIONS). Every nightly run
// adds a version of a few MB, so without a limit the store grows by a tenant's history for ever.
// Kept whatever their age:
//   - the version that serves, and the one that served before it (config.pbtxt lists both, and
//     scoring falls back to the one before when the serving one cannot load);
//   - a candidate still being judged;
//   - the `keepNewest` newest versions, for a rollback by hand or a look at what was rejected.
// Their registry rows stay, so lineage and evaluations stay readable.
import type { RetentionRow } from '../repositories/model-registry.repository.js';

/** The versions whose files go now: not kept by the rules above, and not gone already. 0 keeps all. */
export function artifactsToRemove(versions: readonly RetentionRow[], keepNewest: number): number[] {
  if (keepNewest <= 0) return [];
  const kept = new Set(
    [...versions]
      .sort((a, b) => b.version - a.version)
      .slice(0, keepNewest)
      .map((v) => v.version),
  );
  for (const v of versions) if (v.status === 'PROMOTED' || v.status === 'CANDIDATE') kept.add(v.version);
  const before = versions.filter((v) => v.status === 'RETIRED' && v.promotedAt !== null).sort((a, b) => b.promotedAt!.getTime() - a.promotedAt!.getTime())[0];
  if (before) kept.add(before.version);
  return versions
    .filter((v) => !kept.has(v.version) && v.artifactRemovedAt === null)
    .map((v) => v.version)
    .sort((a, b) => a - b);
}
