// Operator actions that happen outside any tenant: creating a tenant with its first key.
// They run on the owner's connection; the GraphQL API has no path to them.
import { badInput } from '../errors.js';
import { insertApiKeyAsOwner, type ApiKeyRole } from '../repositories/api-key.repository.js';
import { withOwnerTransaction } from '../repositories/database.js';
import { findTenantBySlug, insertTenant, type TenantRow } from '../repositories/tenant.repository.js';
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
  return name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'tenant';
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
