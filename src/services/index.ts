// Wires repositories into services. The one place that knows which service needs which repository.
import type { Database } from '../repositories/database.js';
import { createApiKeyRepository } from '../repositories/api-key.repository.js';
import { createInteractionRepository } from '../repositories/interaction.repository.js';
import { createItemRepository } from '../repositories/item.repository.js';
import { createTenantRepository } from '../repositories/tenant.repository.js';
import { createUserRepository } from '../repositories/user.repository.js';
import { createApiKeyService } from './api-key.service.js';
import { createInteractionService } from './interaction.service.js';
import { createItemService } from './item.service.js';
import { createTenantService } from './tenant.service.js';
import { createUserService } from './user.service.js';

export function createServices(db: Database) {
  const interactions = createInteractionRepository(db);
  const tenants = createTenantService(createTenantRepository(db));
  return {
    apiKeys: createApiKeyService(createApiKeyRepository(db)),
    tenants,
    items: createItemService(createItemRepository(db), tenants),
    interactions: createInteractionService(interactions),
    users: createUserService(createUserRepository(db), interactions),
  };
}

export type Services = ReturnType<typeof createServices>;
