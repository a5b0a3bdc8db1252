import { createHash, randomBytes } from 'node:crypto';
import { notFound, unauthenticated, badInput, throwIfProblems } from '../errors.js';
import type { ApiKeyRepository, ApiKeyRole, ApiKeyRow, NewApiKey } from '../repositories/api-key.repository.js';
import { requireAdmin, type Viewer } from './viewer.js';
import type { EventBus } from '../events/event-bus.js';
import { checkName, show } from './validation.js';

// A key looks like tg_3f9a1c2e_<43 base64url characters>: the first part is the visible
// prefix shown in listings; the whole key is stored only as its SHA-256 hash. 256 random bits
// make a slow password hash unnecessary, and a fast one keeps authentication cheap.
const KEY_PATTERN = /^tg_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/;

export const hashApiKey = (key: string): Buffer => createHash('sha256').update(key).digest();

export function generateApiKey(name: string, role: ApiKeyRole): { key: string; record: NewApiKey } {
  const prefix = `tg_${randomBytes(4).toString('hex')}`;
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, record: { name, prefix, role, keyHash: hashApiKey(key) } };
}

const ROLES: readonly ApiKeyRole[] = ['app', 'admin'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createApiKeyService(keys: ApiKeyRepository, bus: EventBus) {
  return {
    /** Resolves the caller from an Authorization header value, or fails UNAUTHENTICATED. */
    async authenticate(authorization: string | undefined): Promise<Viewer> {
      if (!authorization) throw unauthenticated('missing API key: send the header "Authorization: Bearer <key>"');
      const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
      if (!match) throw unauthenticated('malformed Authorization header: expected "Bearer <key>"');
      if (!KEY_PATTERN.test(match[1])) throw unauthenticated('invalid API key');
      const owner = await keys.findOwner(hashApiKey(match[1]));
      if (!owner) throw unauthenticated('invalid API key');
      if (owner.revoked) throw unauthenticated('this API key has been revoked');
      return { tenantId: owner.tenantId, role: owner.role, keyId: owner.keyId };
    },

    async create(viewer: Viewer, name: string, role: ApiKeyRole): Promise<{ key: string; apiKey: ApiKeyRow }> {
      requireAdmin(viewer);
      if (!ROLES.includes(role)) throw badInput(`role: expected app or admin, got "${role}"`);
      throwIfProblems('createApiKey', checkName('name', name, 200));
      const { key, record } = generateApiKey(name, role);
      return { key, apiKey: await keys.create(viewer.tenantId, record) };
    },

    async revoke(viewer: Viewer, id: string): Promise<ApiKeyRow> {
      requireAdmin(viewer);
      // A malformed id is the caller's mistake; another tenant's id answers NOT_FOUND, as an
      // unknown one does: nothing to probe.
      if (!UUID.test(id)) throw badInput(`id: expected an API key id (a UUID), got ${show(id)}`, [{ field: 'id', message: 'expected a UUID' }]);
      const revoked = await keys.revoke(viewer.tenantId, id);
      if (!revoked) throw notFound(`API key ${show(id)}`);
      // Open WebSockets of this key, on every instance, end their subscriptions; their next
      // operation is refused by authenticate() whether or not this event arrives.
      await bus.publish({ type: 'api-key-revoked', tenantId: viewer.tenantId, keyId: revoked.id });
      return revoked;
    },

    async list(viewer: Viewer): Promise<ApiKeyRow[]> {
      requireAdmin(viewer);
      return keys.list(viewer.tenantId);
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
