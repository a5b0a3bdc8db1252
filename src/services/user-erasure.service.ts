// deleteUser: a privacy request to forget an end user. Every row of theirs goes in one
// transaction (repositories/user-erasure.repository.ts), a record of the erasure stays, and
// every API instance ends their live feeds and forgets what it held of them. Models hold no
// per-user parameters (they read a user's history at each request), so once the rows are gone
// nothing serves from them; the next training run (TRAINING_CRON, nightly) trains without them.
import { notFound, throwIfProblems } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { ErasedRows, UserErasureRepository } from '../repositories/user-erasure.repository.js';
import { checkExternalId, show } from './validation.js';
import type { Viewer } from './viewer.js';

export interface UserErasure {
  userId: string;
  /** true: erased by this call; false: erased before, nothing was left. */
  erased: boolean;
  erasedAt: Date;
  removed: ErasedRows;
}

const NOTHING: ErasedRows = { interactions: 0, likes: 0, dislikes: 0, representations: 0, tasteGroupMemberships: 0, tasteGroupRepresentatives: 0 };

export function createUserErasureService(erasures: UserErasureRepository, bus: EventBus) {
  return {
    /**
     * Erases the user (admin and app keys). Asking again is not an error: the answer says
     * when the user was erased and that nothing was left. An id the tenant never had (or
     * another tenant's) is NOT_FOUND.
     */
    async erase(viewer: Viewer, userId: string): Promise<UserErasure> {
      throwIfProblems('deleteUser', checkExternalId('userId', userId));
      const outcome = await erasures.erase(viewer.tenantId, userId, viewer.role);
      if (outcome.status === 'unknown') throw notFound(`user ${show(userId)}`);
      if (outcome.status === 'already-erased') return { userId, erased: false, erasedAt: outcome.erasedAt, removed: NOTHING };
      // After the commit: live feeds end and caches forget, on every instance.
      await bus.publish({ type: 'user-erased', tenantId: viewer.tenantId, userId });
      return { userId, erased: true, erasedAt: outcome.erasedAt, removed: outcome.removed };
    },
  };
}

export type UserErasureService = ReturnType<typeof createUserErasureService>;
