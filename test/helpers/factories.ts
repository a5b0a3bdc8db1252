// Small factories for test data: each test builds what it needs, nothing is shared.
import { createTenant } from '../../src/services/tenant-admin.service.js';
import type { Viewer } from '../../src/services/viewer.js';

let counter = 0;

export interface TestTenant {
  id: string;
  slug: string;
  dim: number;
  adminKey: string;
  appKey: string;
  admin: Viewer;
  app: Viewer;
}

export async function createTestTenant(adminUrl: string, dim = 4): Promise<TestTenant> {
  const slug = `tenant-${process.pid}-${++counter}`;
  const { tenant, keys } = await createTenant(adminUrl, { name: `Tenant ${slug}`, slug, embeddingDim: dim, keyRoles: ['admin', 'app'] });
  return {
    id: tenant.id,
    slug,
    dim,
    adminKey: keys[0].key,
    appKey: keys[1].key,
    admin: { tenantId: tenant.id, role: 'admin', keyId: 'test' },
    app: { tenantId: tenant.id, role: 'app', keyId: 'test' },
  };
}

export function makeItems(count: number, dim: number, prefix = 'item') {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    url: `https://img.example.com/${prefix}-${i}.png`,
    prompt: `prompt ${i}`,
    embedding: Array.from({ length: dim }, (_, d) => Math.fround(Math.sin(i + d))),
  }));
}

export function makeEvents(count: number, options: { users?: number; items: number; itemPrefix?: string; eventPrefix?: string }) {
  return Array.from({ length: count }, (_, i) => ({
    userId: `user-${i % (options.users ?? 10)}`,
    itemId: `${options.itemPrefix ?? 'item'}-${i % options.items}`,
    kind: i % 3 === 0 ? ('DISLIKE' as const) : ('LIKE' as const),
    eventId: options.eventPrefix ? `${options.eventPrefix}-${i}` : undefined,
  }));
}
