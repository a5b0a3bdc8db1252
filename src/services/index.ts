// Wires repositories into services. The one place that knows which service needs which repository.
import { pino } from 'pino';
import type { Scorer } from '../inference/scorer.js';
import type { Logger } from '../logger.js';
import type { Database } from '../repositories/database.js';
import { createApiKeyRepository } from '../repositories/api-key.repository.js';
import { createInteractionRepository } from '../repositories/interaction.repository.js';
import { createItemRepository } from '../repositories/item.repository.js';
import { createTenantRepository } from '../repositories/tenant.repository.js';
import { createUserRepository } from '../repositories/user.repository.js';
import { createApiKeyService } from './api-key.service.js';
import { createInteractionService } from './interaction.service.js';
import { createItemService } from './item.service.js';
import { createScoringService } from './scoring.service.js';
import { createTenantService } from './tenant.service.js';
import { createUserService } from './user.service.js';

export interface ScoringDependencies {
  scorer: Scorer;
  historyPerKind: number;
  timeoutMs: number;
  log: Logger;
  onScored?: (outcome: 'model' | 'fallback', users: number) => void;
}

/** Without a model, scoring answers from the history centroid, marked degraded. */
const NO_MODEL: Scorer = {
  modelInfo: async () => undefined,
  score: async () => {
    throw new Error('no model configured');
  },
  close: async () => {},
};

export function createServices(db: Database, scoring?: ScoringDependencies) {
  const interactions = createInteractionRepository(db);
  const items = createItemRepository(db);
  const users = createUserRepository(db);
  const tenants = createTenantService(createTenantRepository(db));
  return {
    apiKeys: createApiKeyService(createApiKeyRepository(db)),
    tenants,
    items: createItemService(items, tenants),
    interactions: createInteractionService(interactions),
    users: createUserService(users, interactions),
    scoring: createScoringService({
      users,
      interactions,
      items,
      scorer: scoring?.scorer ?? NO_MODEL,
      historyPerKind: scoring?.historyPerKind ?? 8,
      timeoutMs: scoring?.timeoutMs ?? 1000,
      log: scoring?.log ?? pino({ level: 'silent' }),
      onScored: scoring?.onScored,
    }),
  };
}

export type Services = ReturnType<typeof createServices>;
