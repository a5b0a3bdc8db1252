// Wires repositories into services. The one place that knows which service needs which repository.
import { pino } from 'pino';
import { NO_SCORER, type Scorer } from '../../inference/scorer.js';
import type { Logger } from '../../logger.js';
import type { Database } from '../../repositories/database.js';
import { createApiKeyRepository } from '../../repositories/api-key.repository.js';
import { createInteractionRepository } from '../../repositories/interaction.repository.js';
import { createItemRepository } from '../../repositories/item.repository.js';
import { createTenantRepository } from '../../repositories/tenant.repository.js';
import { createUserRepository } from '../../repositories/user.repository.js';
import { createApiKeyService } from '../../services/api-key.service.js';
import { createInteractionService } from '../../services/interaction.service.js';
import { createItemService } from '../../services/item.service.js';
import { createScoringService } from '../../services/scoring.service.js';
import { createTenantService } from '../../services/tenant.service.js';
import { createUserService } from '../../services/user.service.js';
import { createFeedService } from '../../services/feed.service.js';
import { createTenantIndexes, type TenantIndexesOptions } from '../../services/tenant-indexes.js';
import { createInProcessBus, type EventBus } from '../../events/event-bus.js';
import { createAdmission, type RateLimitPolicy } from '../../services/rate-limits.js';
import { createFeedUpdatesService } from '../../services/feed-updates.service.js';
import { createSecretRepository } from '../../repositories/secret.repository.js';
import { createIdCodec, type IdCodec } from '../../services/opaque-ids.js';
import type { Viewer } from '../../services/viewer.js';
import type { Services } from '../../services/services.js';
import { createPredictor } from '../../inference/predictor.js';
import { createModelRegistryRepository } from '../../repositories/model-registry.repository.js';
import { createServingModels, type TrainingRequirements } from '../../services/serving-model.service.js';
import { createTrainingService } from '../../services/training.service.js';
import { createTrainingRunUpdates } from '../../services/training-run-updates.service.js';
import type { ArtifactStore } from '../../training/artifact-store.js';
import { loadConfig, type Config, type TasteGroupsConfig } from '../../config.js';
import { describeSchedule } from '../../jobs/queues.js';
import { createUserEmbeddingRepository } from '../../repositories/user-embedding.repository.js';
import { createTasteGroupRepository } from '../../repositories/taste-group.repository.js';
import { createUserEmbeddings } from '../../services/user-embedding.service.js';
import { createTasteGroups } from '../../services/taste-group.service.js';
import { createSimilarUsers } from '../../services/similar-users.service.js';
import { createUserErasureRepository } from '../../repositories/user-erasure.repository.js';
import { createUserErasureService } from '../../services/user-erasure.service.js';

export interface ScoringDependencies {
  scorer: Scorer;
  historyPerKind: number;
  timeoutMs: number;
  log: Logger;
  onScored?: (outcome: 'model' | 'fallback', users: number) => void;
}

/** What scoring tells a tenant it needs before its first model, from the training settings. */
export function trainingRequirementsOf(training: Config['training']): TrainingRequirements {
  return { minUsers: training.minUsers, minHeldOutUsers: training.minHeldOutUsers, schedule: describeSchedule(training.cron) };
}

// Defaults live in config.ts only: what a caller leaves out is what an empty environment gives.
// (Rate limits are the exception: left out, there are none, as tests and CLIs want.)
const DEFAULTS = loadConfig({});

const NO_LIMITS: RateLimitPolicy = { perKey: { perSecond: 0, burst: 1 }, perTenant: { perSecond: 0, burst: 1 }, gate: { maxInFlight: 0, maxQueued: 0 } };

export interface ServiceOptions {
  /** Background work that failed, by component (for a metric); it is logged here too. */
  onBackgroundError?: (component: string, error: unknown) => void;
  /** Rate limits and per-tenant concurrency (config.rateLimits); off when not given. */
  rateLimits?: RateLimitPolicy;
  scoring?: ScoringDependencies;
  /** Where services announce changes (feeds listen); in-process when not given. */
  bus?: EventBus;
  /** What training needs of a tenant (config.training), for the reason scoring gives before its first model. */
  training?: TrainingRequirements;
  /** Representations, similar users and taste groups (config.tasteGroups). */
  tasteGroups?: TasteGroupsConfig;
  /** trainingRunUpdated's backing poll (config.training.followPollMs). */
  trainingFollowPollMs?: number;
  /** The tenants' model store, where this process can write it (promoteModelVersion needs it). */
  artifacts?: ArtifactStore;
  feed?: {
    poolSize?: number;
    nearShare?: number;
    /** A live feed waits this long after an event for more before re-ranking. */
    coalesceMs?: number;
    /** A live feed's re-ranking failed in the background (it is retried). */
    onLiveFeedError?: (error: unknown) => void;
    indexBudgetBytes?: number;
    scanSliceFloats?: number;
    partitionFloats?: number;
    probeShare?: number;
    onIndexEvicted?: (tenantId: string, bytes: number) => void;
    onIndexPartitioned?: TenantIndexesOptions['onPartitioned'];
    onIndexRefreshFailed?: (tenantId: string, error: unknown) => void;
  };
}

export function createServices(db: Database, options: ServiceOptions = {}): Services {
  const interactions = createInteractionRepository(db);
  const items = createItemRepository(db);
  const users = createUserRepository(db);
  const tenants = createTenantService(createTenantRepository(db));
  // Read once, on first use (the first page or interaction shown); a failed read is tried again.
  const secrets = createSecretRepository(db);
  let codec: Promise<IdCodec> | undefined;
  const ids = () =>
    (codec ??= secrets.read('opaque_ids').then(createIdCodec, (error) => {
      codec = undefined;
      throw error;
    }));
  const bus = options.bus ?? createInProcessBus();
  const log = options.scoring?.log ?? pino({ level: 'silent' });
  // Without a scorer, the history centroid ranks, marked degraded.
  const predictor = createPredictor(options.scoring?.scorer ?? NO_SCORER);
  const registry = createModelRegistryRepository(db);
  const servingModels = createServingModels({ registry, predictor, requirements: options.training ?? trainingRequirementsOf(DEFAULTS.training), log });
  // Each tenant's item vectors in this process's memory: the feeds' nearest items, and the
  // vectors that feeds and score queries hand the model (instead of reading them every time).
  const indexes = createTenantIndexes({
    items,
    budgetBytes: options.feed?.indexBudgetBytes ?? DEFAULTS.feed.indexBudgetBytes,
    vectorIndex: {
      sliceFloats: options.feed?.scanSliceFloats ?? DEFAULTS.feed.scanSliceFloats,
      partitionFloats: options.feed?.partitionFloats ?? DEFAULTS.feed.partitionFloats,
      probeShare: options.feed?.probeShare ?? DEFAULTS.feed.probeShare,
    },
    onEvict: options.feed?.onIndexEvicted,
    onPartitioned: options.feed?.onIndexPartitioned,
    onRefreshFailed: options.feed?.onIndexRefreshFailed,
  });
  const embeddingDim = (viewer: Viewer) => tenants.embeddingDim(viewer);
  const scoring = createScoringService({
    users,
    interactions,
    items,
    vectors: { indexes, embeddingDim },
    predictor,
    servingModels,
    historyPerKind: options.scoring?.historyPerKind ?? DEFAULTS.scoring.historyPerKind,
    timeoutMs: options.scoring?.timeoutMs ?? DEFAULTS.scoring.timeoutMs,
    log,
    onScored: options.scoring?.onScored,
  });
  const feed = createFeedService({
    users,
    interactions,
    items,
    scoring,
    embeddingDim,
    readTogether: (tenantId, fn) => db.withTenant(tenantId, () => fn()),
    poolSize: options.feed?.poolSize ?? DEFAULTS.feed.poolSize,
    nearShare: options.feed?.nearShare ?? DEFAULTS.feed.nearShare,
    indexes,
  });
  const embeddingRows = createUserEmbeddingRepository(db);
  const groupRows = createTasteGroupRepository(db);
  const groupSettings = options.tasteGroups ?? DEFAULTS.tasteGroups;
  const userEmbeddings = createUserEmbeddings({
    embeddings: embeddingRows,
    predictor,
    servingModels,
    tenants,
    settings: { historyPerKind: groupSettings.historyPerKind, minPerKind: groupSettings.minPerKind, batchSize: groupSettings.batchSize, timeoutMs: 60_000 },
    log,
  });
  const tasteGroups = createTasteGroups({
    groups: groupRows,
    embeddings: embeddingRows,
    userEmbeddings,
    bus,
    settings: {
      minK: groupSettings.minK,
      maxK: groupSettings.maxK,
      sampleSize: groupSettings.silhouetteSample,
      representatives: 5,
      topItems: 10,
      liftPrior: 10,
      minItemUsers: 2,
      keepSnapshots: groupSettings.keepSnapshots,
      seed: 0,
    },
    log,
  });
  const similarUsers = createSimilarUsers({ embeddings: embeddingRows, userEmbeddings, users, minPerKind: groupSettings.minPerKind });
  const admission = createAdmission(options.rateLimits ?? NO_LIMITS, bus);
  const liveFeeds = createFeedUpdatesService({
    feed,
    bus,
    admission,
    coalesceMs: options.feed?.coalesceMs ?? DEFAULTS.feed.coalesceMs,
    log,
    onError: options.feed?.onLiveFeedError,
  });
  // Item changes from any instance make this instance's vector index refresh on next use; after
  // a gap in the event stream every index does, since its changes may have been missed.
  // A promotion re-ranks live feeds only once this instance serves the new version.
  bus.subscribe((event) => {
    if (event.type === 'items-upserted') indexes.itemsChanged(event.tenantId);
    if (event.type === 'items-deleted') indexes.itemsRemoved(event.tenantId, event.itemIds);
    // The similar-users index holds every user's representation: an erased user leaves it now.
    if (event.type === 'taste-groups-refreshed' || event.type === 'user-erased') similarUsers.forget(event.tenantId);
    if (event.type === 'tenant-deleted') {
      indexes.drop(event.tenantId);
      similarUsers.forget(event.tenantId);
      servingModels.forget(event.tenantId);
    }
    if (event.type === 'bus-resynced') {
      indexes.dropAll();
      servingModels.forgetAll();
    }
    if (event.type === 'model-promoted') {
      const { tenantId } = event;
      if (!tenantId) return liveFeeds.modelChanged();
      servingModels.promoted(tenantId).then(
        () => liveFeeds.modelChanged(tenantId),
        (error) => {
          options.onBackgroundError?.('model-promotion', error);
          log.error({ err: error, tenantId, version: event.version }, 'taking up a promoted model version failed; its tenant is read again within a minute');
        },
      );
    }
  });
  const training = createTrainingService({
    registry,
    servingModels,
    tenants,
    bus,
    promotion: options.artifacts && { artifacts: options.artifacts, predictor, log },
  });
  return {
    bus,
    admission,
    liveFeeds,
    apiKeys: createApiKeyService(createApiKeyRepository(db), bus),
    tenants,
    items: createItemService(items, tenants, bus, ids),
    interactions: createInteractionService(interactions, bus),
    userErasure: createUserErasureService(createUserErasureRepository(db), bus),
    users: createUserService(users, interactions, ids, async (tenantId, groupId) => (await groupRows.group(tenantId, groupId)) !== undefined),
    userEmbeddings,
    tasteGroups,
    similarUsers,
    opaqueIds: {
      interaction: async (viewer: Viewer, id: number) => (await ids()).encode(viewer.tenantId, 'interaction', id),
    },
    scoring,
    feed,
    indexes,
    servingModels,
    training,
    trainingRunUpdates: createTrainingRunUpdates({
      runs: training,
      bus,
      log,
      pollMs: options.trainingFollowPollMs ?? DEFAULTS.training.followPollMs,
      onError: (error) => options.onBackgroundError?.('training-run-updates', error),
    }),
    predictor,
  };
}

export type { Services };
