// Who is calling: decided by the API key alone, never by anything in the request body.
import type { ApiKeyRole } from '../repositories/api-key.repository.js';
import { forbidden } from '../errors.js';

export interface Viewer {
  readonly tenantId: string;
  readonly role: ApiKeyRole;
  readonly keyId: string;
}

export function requireAdmin(viewer: Viewer): void {
  if (viewer.role !== 'admin') throw forbidden('this operation needs an admin API key; the key used has role "app"');
}
