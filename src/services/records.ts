// The records the services hand to the adapters (graphql/ and its generated resolver types).
// They are the repositories' rows, which the services return as they are; naming them here lets
// the adapters depend on the service layer alone (../shared/ARCHITECTURE.md), so a repository
// can be reorganised without touching them.
export type { ApiKeyRole } from '../repositories/api-key.repository.js';
export type { InteractionRow } from '../repositories/interaction.repository.js';
export type { ItemRow } from '../repositories/item.repository.js';
export type { ModelVersionRow, TrainingRunRow } from '../repositories/model-registry.repository.js';
export type { GroupRow, ItemLiftJson, SnapshotRow } from '../repositories/taste-group.repository.js';
export type { TenantRow } from '../repositories/tenant.repository.js';
export type { UserRow } from '../repositories/user.repository.js';
