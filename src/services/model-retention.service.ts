// Retention of the tenants' model files (TRAINING_KEEP_VERSIONS), run after every training run of
// a tenant: the registry marks which versions' files go (training/retention.ts decides, under the
// lock promotion takes), then their folders are removed. Marking first means a crash in between
// leaves files on disk that the next run removes; it never leaves a row that claims files it has
// lost. Staging folders a dead process left behind go too.
import type { Logger } from '../logger.js';
import type { ModelRegistryRepository } from '../repositories/model-registry.repository.js';
import type { ArtifactStore } from '../training/artifact-store.js';
import { artifactsToRemove } from '../training/retention.js';

/** A staging folder this old is not being written any more (a copy takes seconds). */
const STAGING_AGE_MS = 60 * 60 * 1000;

export interface ModelRetentionDeps {
  registry: Pick<ModelRegistryRepository, 'markArtifactsRemoved'>;
  artifacts: Pick<ArtifactStore, 'onDisk' | 'remove'>;
  /** TRAINING_KEEP_VERSIONS: the newest versions whose files are kept; 0 keeps every version's. */
  keepVersions: number;
  log: Logger;
}

export interface Retained {
  /** Version folders removed now. */
  removed: number[];
  /** Stale staging folders removed now. */
  staging: string[];
}

export function createModelRetention(d: ModelRetentionDeps) {
  return {
    /** Removes the files of the tenant's versions that retention lets go; throws what the database or the disk threw. */
    async retain(tenantId: string): Promise<Retained> {
      const gone = new Set(await d.registry.markArtifactsRemoved(tenantId, (versions) => artifactsToRemove(versions, d.keepVersions)));
      const disk = await d.artifacts.onDisk(tenantId, STAGING_AGE_MS);
      const removed = disk.versions.filter((v) => gone.has(v));
      for (const version of removed) await d.artifacts.remove(tenantId, version);
      for (const folder of disk.staleStaging) await d.artifacts.remove(tenantId, folder);
      if (removed.length || disk.staleStaging.length) {
        d.log.info(
          { tenantId, removed, staging: disk.staleStaging, keepVersions: d.keepVersions },
          'model files removed by retention (TRAINING_KEEP_VERSIONS)',
        );
      }
      return { removed, staging: disk.staleStaging };
    },
  };
}

export type ModelRetention = ReturnType<typeof createModelRetention>;
