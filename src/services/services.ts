// What the adapters (graphql/, the jobs) are given: every service of one process, built by
// its composition root (apps/wiring/services.ts). Declared here, beside the services, so the
// adapters depend on the services' types and never on the wiring that makes them.
import type { EventBus } from '../events/event-bus.js';
import type { Predictor } from '../inference/predictor.js';
import type { ApiKeyService } from './api-key.service.js';
import type { FeedUpdatesService } from './feed-updates.service.js';
import type { FeedService } from './feed.service.js';
import type { InteractionService } from './interaction.service.js';
import type { ItemService } from './item.service.js';
import type { AdmissionControl } from './rate-limits.js';
import type { ScoringService } from './scoring.service.js';
import type { ServingModels } from './serving-model.service.js';
import type { SimilarUsers } from './similar-users.service.js';
import type { TenantIndexes } from './tenant-indexes.js';
import type { TasteGroups } from './taste-group.service.js';
import type { TenantService } from './tenant.service.js';
import type { TrainingRunUpdates } from './training-run-updates.service.js';
import type { TrainingService } from './training.service.js';
import type { UserEmbeddings } from './user-embedding.service.js';
import type { UserErasureService } from './user-erasure.service.js';
import type { UserService } from './user.service.js';
import type { Viewer } from './viewer.js';

export interface Services {
  bus: EventBus;
  admission: AdmissionControl;
  liveFeeds: FeedUpdatesService;
  apiKeys: ApiKeyService;
  tenants: TenantService;
  items: ItemService;
  interactions: InteractionService;
  userErasure: UserErasureService;
  users: UserService;
  userEmbeddings: UserEmbeddings;
  tasteGroups: TasteGroups;
  similarUsers: SimilarUsers;
  /** Row ids as clients see them: opaque, and valid for their tenant only. */
  opaqueIds: { interaction(viewer: Viewer, id: number): Promise<string> };
  scoring: ScoringService;
  feed: FeedService;
  /** This process's in-memory indexes of the tenants' item vectors (feeds' nearest items, and the vectors feeds and scores read). */
  indexes: TenantIndexes;
  servingModels: ServingModels;
  training: TrainingService;
  /** trainingRunUpdated: a run pushed as it moves on. */
  trainingRunUpdates: TrainingRunUpdates;
  /** For the jobs: the predictor this process scores with, so a promotion loads where it scores. */
  predictor: Predictor;
}
