import { badInput, notFound } from '../errors.js';
import type { ActivityDay, TenantCounts, TenantRepository, TenantRow } from '../repositories/tenant.repository.js';
import { requireAdmin, type Viewer } from './viewer.js';

export function createTenantService(tenants: TenantRepository) {
  // A tenant's embedding dimension never changes after creation, so it is safe to remember:
  // every upsertItems call needs it and would otherwise cost a transaction.
  const dims = new Map<string, number>();

  return {
    async current(viewer: Viewer): Promise<TenantRow> {
      requireAdmin(viewer);
      const tenant = await tenants.findById(viewer.tenantId);
      if (!tenant) throw notFound('tenant');
      return tenant;
    },

    async counts(viewer: Viewer): Promise<TenantCounts> {
      requireAdmin(viewer);
      return tenants.counts(viewer.tenantId);
    },

    async activity(viewer: Viewer, days: number): Promise<ActivityDay[]> {
      requireAdmin(viewer);
      if (!Number.isInteger(days) || days < 1 || days > 366)
        throw badInput(`days: expected an integer from 1 to 366, got ${days}`, [{ field: 'days', message: 'expected 1 to 366' }]);
      return tenants.activity(viewer.tenantId, days);
    },

    async embeddingDim(viewer: Viewer): Promise<number> {
      const known = dims.get(viewer.tenantId);
      if (known !== undefined) return known;
      const tenant = await tenants.findById(viewer.tenantId);
      if (!tenant) throw notFound('tenant');
      dims.set(viewer.tenantId, tenant.embeddingDim);
      return tenant.embeddingDim;
    },
  };
}

export type TenantService = ReturnType<typeof createTenantService>;
