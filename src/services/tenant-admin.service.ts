// Operator actions that happen outside any tenant: creating a tenant with its first key, and
// deleting a tenant with everything it has. They run on the owner's connection; the GraphQL
// API has no path to them.
import { badInput } from '../errors.js';
import { insertApiKeyAsOwner, type ApiKeyRole } from '../repositories/api-key.repository.js';
import { withOwnerTransaction } from '../repositories/database.js';
import { deleteTenantAsOwner, findTenantBySlug, tenantJobs, insertTenant, tenantFootprint, type TenantRow } from '../repositories/tenant.repository.js';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { notify } from '../events/event-bus.js';
import { tenantModelName } from '../inference/model-names.js';
import { JOB_SCHEMA } from '../repositories/job-queue-schema.js';
import { generateApiKey } from './api-key.service.js';

export interface NewTenant {
  name: string;
  slug?: string;
  embeddingDim: number;
  /** Roles of the keys to create with the tenant; the first admin key at least. */
  keyRoles?: ApiKeyRole[];
}

export interface CreatedTenant {
  tenant: TenantRow;
  keys: { role: ApiKeyRole; key: string; prefix: string }[];
}

export function slugify(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63) || 'tenant'
  );
}

export function checkNewTenant(input: NewTenant): Required<Omit<NewTenant, 'keyRoles'>> {
  const name = input.name.trim();
  if (name.length < 1 || name.length > 200) throw badInput(`name: expected 1 to 200 characters, got ${name.length}`);
  const slug = input.slug ?? slugify(name);
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(slug)) throw badInput(`slug: expected lowercase letters, digits and dashes (at most 63), got "${slug}"`);
  if (!Number.isInteger(input.embeddingDim) || input.embeddingDim < 1 || input.embeddingDim > 4096) {
    throw badInput(`dim: expected an integer from 1 to 4096, got ${input.embeddingDim}`);
  }
  return { name, slug, embeddingDim: input.embeddingDim };
}

export async function createTenant(ownerUrl: string, input: NewTenant): Promise<CreatedTenant> {
  const checked = checkNewTenant(input);
  return withOwnerTransaction(ownerUrl, async (owner) => {
    if (await findTenantBySlug(owner, checked.slug)) throw badInput(`slug: a tenant "${checked.slug}" already exists`);
    const tenant = await insertTenant(owner, checked);
    const keys = [];
    for (const role of input.keyRoles ?? ['admin']) {
      const { key, record } = generateApiKey(`first ${role} key`, role);
      await insertApiKeyAsOwner(owner, tenant.id, record);
      keys.push({ role, key, prefix: record.prefix });
    }
    return { tenant, keys };
  });
}

export interface TenantDeletion {
  tenant: TenantRow;
  /** Rows per table (every table with a tenant column): removed, or that would be. */
  rows: Record<string, number>;
  /** Its jobs in the queue (queued, running or archived). */
  jobs: number;
  /** Its folder in the tenants' model store, if it has one. */
  artifacts: string | null;
  /** false: a dry run (nothing was changed). */
  deleted: boolean;
}

/**
 * Deletes a tenant: its rows in every table (one transaction, from the tenants row down the
 * foreign keys), its jobs, then its model artifacts on disk. Without `confirm`, only says what
 * it would remove. API instances listening on PostgreSQL are told (tenant-deleted, sent with
 * the commit) and end the tenant's live feeds and drop what they cached of it; its keys stop
 * authenticating with the commit.
 */
export async function deleteTenant(ownerUrl: string, slug: string, o: { tenantModelStore: string; confirm: boolean }): Promise<TenantDeletion> {
  const deletion = await withOwnerTransaction(ownerUrl, async (owner) => {
    const tenant = await findTenantBySlug(owner, slug);
    if (!tenant) throw badInput(`slug: no tenant "${slug}"`);
    const rows = await tenantFootprint(owner, tenant.id);
    const dir = join(o.tenantModelStore, tenantModelName(tenant.id));
    const artifacts = (await stat(dir).catch(() => undefined))?.isDirectory() ? dir : null;
    const jobs = await tenantJobs(owner, JOB_SCHEMA, tenant.id, { remove: o.confirm });
    if (!o.confirm) return { tenant, rows, jobs, artifacts, deleted: false };
    await deleteTenantAsOwner(owner, tenant.id);
    await notify(owner, { type: 'tenant-deleted', tenantId: tenant.id });
    return { tenant, rows, jobs, artifacts, deleted: true };
  });
  // After the commit: a model store folder without its registry rows serves nobody. A failed
  // removal leaves only files, and says which, since the tenant it belonged to is gone.
  if (deletion.deleted && deletion.artifacts) {
    await rm(deletion.artifacts, { recursive: true, force: true }).catch((error: Error) => {
      throw new Error(
        `the tenant's rows and jobs were deleted, but its model artifacts could not be removed (${error.message}): remove ${deletion.artifacts} by hand`,
      );
    });
  }
  return deletion;
}
