// The admin's view of a tenant's models: which one scores, the registry's versions and runs,
// a run started now, and a promotion by hand (a rollback or roll-forward, recorded as MANUAL).
import { AppError, badInput, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { ModelRegistryRepository, ModelVersionRow, TrainingRunRow } from '../repositories/model-registry.repository.js';
import { promoteVersion, PromotionError, type PromotionDeps } from '../training/promotion.js';
import { checkFirst, decodeKeyCursor, encodeKeyCursor, pageOf, type Page } from './pagination.js';
import type { ServingModels } from './serving-model.service.js';
import type { TenantService } from './tenant.service.js';
import { requireAdmin, type Viewer } from './viewer.js';

export interface ScoringModel {
  kind: 'TENANT' | 'BASE' | 'FALLBACK';
  /** As score, rank and feed report it. */
  modelVersion: string | null;
  /** Why the fallback ranks, and what to do about it. */
  reason: string | null;
}

export interface TrainingServiceOptions {
  registry: ModelRegistryRepository;
  servingModels: Pick<ServingModels, 'resolve' | 'promoted'>;
  tenants: Pick<TenantService, 'embeddingDim'>;
  bus: EventBus;
  /** What a promotion by hand needs; absent where this process has no model store. */
  promotion?: Omit<PromotionDeps, 'registry' | 'bus'>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A tenant's version number as text: a version cursor's key, and a model key ("3", not "base-1"). */
const VERSION = /^[1-9]\d{0,8}$/;

export function createTrainingService(o: TrainingServiceOptions) {
  return {
    async scoringModel(viewer: Viewer): Promise<ScoringModel> {
      requireAdmin(viewer);
      const serving = await o.servingModels.resolve(viewer.tenantId, await o.tenants.embeddingDim(viewer));
      if (serving.kind === 'tenant') return { kind: 'TENANT', modelVersion: String(serving.version), reason: null };
      if (serving.kind === 'base') return { kind: 'BASE', modelVersion: `base-${serving.version}`, reason: null };
      return { kind: 'FALLBACK', modelVersion: null, reason: serving.reason };
    },

    /** The tenant's own version that serves, with the gate's numbers; null before its first promotion. */
    async servingVersion(viewer: Viewer): Promise<ModelVersionRow | null> {
      requireAdmin(viewer);
      return (await o.registry.promoted(viewer.tenantId)) ?? null;
    },

    async versions(viewer: Viewer, first: number, after?: string | null): Promise<Page<ModelVersionRow>> {
      requireAdmin(viewer);
      checkFirst('first', first);
      const before = decodeKeyCursor('after', 'version', VERSION, after);
      const rows = await o.registry.listVersions(viewer.tenantId, first + 1, before === undefined ? undefined : Number(before));
      return pageOf(rows, first, (row) => encodeKeyCursor('version', row.version), after);
    },

    async version(viewer: Viewer, version: number): Promise<ModelVersionRow> {
      requireAdmin(viewer);
      const row = Number.isInteger(version) && version >= 1 ? await o.registry.findVersion(viewer.tenantId, version) : undefined;
      if (!row) throw notFound(`model version ${version}`);
      return row;
    },

    async runs(viewer: Viewer, first: number, after?: string | null): Promise<Page<TrainingRunRow>> {
      requireAdmin(viewer);
      checkFirst('first', first);
      const afterId = decodeKeyCursor('after', 'run', UUID, after);
      const rows = await o.registry.listRuns(viewer.tenantId, first + 1, afterId);
      return pageOf(rows, first, (row) => encodeKeyCursor('run', row.id), after);
    },

    async run(viewer: Viewer, id: string): Promise<TrainingRunRow> {
      requireAdmin(viewer);
      // Another tenant's run answers the same as no run: row-level security hides it.
      const run = await o.registry.findRun(viewer.tenantId, id);
      if (!run) throw notFound(`training run "${id.slice(0, 60)}"`);
      return run;
    },

    /**
     * The tenant's version a model key names ("3", as scoring and snapshots report it); null
     * for the base model ("base-1"), which is not the tenant's.
     */
    async versionOfModel(viewer: Viewer, model: string): Promise<ModelVersionRow | null> {
      requireAdmin(viewer);
      return VERSION.test(model) ? ((await o.registry.findVersion(viewer.tenantId, Number(model))) ?? null) : null;
    },

    /** The version a run made, if it made one. */
    async versionOfRun(viewer: Viewer, runId: string): Promise<ModelVersionRow | null> {
      requireAdmin(viewer);
      return (await o.registry.versionOfRun(viewer.tenantId, runId)) ?? null;
    },

    /** The run that made a version. */
    async runOfVersion(viewer: Viewer, version: ModelVersionRow): Promise<TrainingRunRow | null> {
      requireAdmin(viewer);
      return version.trainingRunId ? ((await o.registry.findRun(viewer.tenantId, version.trainingRunId)) ?? null) : null;
    },

    /**
     * Queues a run now, or returns the one already queued or running (one at a time per
     * tenant). The jobs process hears of it at once (an event) or within its next sweep.
     */
    async startTraining(viewer: Viewer): Promise<TrainingRunRow> {
      requireAdmin(viewer);
      const { run, created } = await o.registry.queueRun(viewer.tenantId, 'MANUAL');
      if (created) await o.bus.publish({ type: 'training-requested', tenantId: viewer.tenantId, runId: run.id });
      return run;
    },

    async promote(viewer: Viewer, version: number): Promise<ModelVersionRow> {
      requireAdmin(viewer);
      if (!Number.isInteger(version) || version < 1)
        throw badInput(`version: expected a positive integer, got ${version}`, [{ field: 'version', message: 'expected a positive integer' }]);
      if (!o.promotion) {
        throw new AppError(
          'UNAVAILABLE',
          'promoteModelVersion: this API instance has no model store (TENANT_MODEL_STORE); send it to an instance that mounts the store',
        );
      }
      try {
        const promoted = await promoteVersion({ ...o.promotion, registry: o.registry, bus: o.bus }, viewer.tenantId, version, 'MANUAL');
        // Read your writes: this instance scores with it before the answer goes out (others
        // take it up on the event, each once it has loaded the version).
        await o.servingModels.promoted(viewer.tenantId);
        return promoted;
      } catch (error) {
        if (!(error instanceof PromotionError)) throw error;
        if (error.kind === 'not-found') throw notFound(`model version ${version}`);
        if (error.kind === 'unreachable') throw new AppError('UNAVAILABLE', error.message);
        throw new AppError('CONFLICT', error.message, [{ field: 'version', message: error.message }]);
      }
    },
  };
}

export type TrainingService = ReturnType<typeof createTrainingService>;
