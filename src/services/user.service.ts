import { notFound, throwIfProblems } from '../errors.js';
import type { InteractionKind, InteractionRepository, InteractionRow } from '../repositories/interaction.repository.js';
import type { UserRepository, UserRow } from '../repositories/user.repository.js';
import { checkFirst, toPage, type Page } from './pagination.js';
import { cursorsFor, type IdCodec } from './opaque-ids.js';
import { checkExternalId, show } from './validation.js';
import type { Viewer } from './viewer.js';

export function createUserService(users: UserRepository, interactions: InteractionRepository, ids: () => Promise<IdCodec>) {
  return {
    async get(viewer: Viewer, externalId: string): Promise<UserRow> {
      throwIfProblems('user', checkExternalId('externalId', externalId), 'BAD_USER_INPUT', { write: false });
      const user = await users.findByExternalId(viewer.tenantId, externalId);
      if (!user) throw notFound(`user ${show(externalId)}`);
      return user;
    },

    /** The user's interactions, newest first. `user` was loaded for this viewer's tenant. */
    async history(
      viewer: Viewer,
      user: UserRow,
      args: { first: number; after?: string | null; kind?: InteractionKind | null },
    ): Promise<Page<InteractionRow>> {
      checkFirst('first', args.first);
      const cursors = cursorsFor(await ids(), viewer.tenantId, 'history-cursor');
      const rows = await interactions.history({
        tenantId: viewer.tenantId,
        userId: user.id,
        limit: args.first + 1,
        beforeId: cursors.decode('after', args.after),
        kind: args.kind ?? undefined,
      });
      return toPage(rows, args.first, cursors);
    },

    /** For DataLoader: users by internal id, one entry per id, in order. */
    byIds: (viewer: Viewer, ids: readonly number[]) => users.findByIds(viewer.tenantId, ids),
  };
}

export type UserService = ReturnType<typeof createUserService>;
