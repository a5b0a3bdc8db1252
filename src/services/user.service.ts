import { notFound, throwIfProblems } from '../errors.js';
import { pairKey, type EventKind, type InteractionRepository, type InteractionRow } from '../repositories/interaction.repository.js';
import type { UserRepository, UserRow } from '../repositories/user.repository.js';
import { checkFirst, toPage, type Page } from './pagination.js';
import { cursorsFor, type IdCodec } from './opaque-ids.js';
import { checkExternalId, show } from './validation.js';
import { requireAdmin, type Viewer } from './viewer.js';

/** Whether a taste group is the tenant's (users can be listed by group). */
export type GroupExists = (tenantId: string, groupId: string) => Promise<boolean>;

export function createUserService(
  users: UserRepository,
  interactions: InteractionRepository,
  ids: () => Promise<IdCodec>,
  groupExists: GroupExists = async () => false,
) {
  /** The tenant's user of this id; the problems name the operation and its argument. */
  async function find(viewer: Viewer, operation: string, field: string, externalId: string): Promise<UserRow> {
    throwIfProblems(operation, checkExternalId(field, externalId), 'BAD_USER_INPUT', { write: false });
    const user = await users.findByExternalId(viewer.tenantId, externalId);
    if (!user) throw notFound(`user ${show(externalId)}`);
    return user;
  }

  return {
    get: (viewer: Viewer, externalId: string): Promise<UserRow> => find(viewer, 'user', 'externalId', externalId),

    /** The user's interactions, newest first. `user` was loaded for this viewer's tenant. */
    async history(viewer: Viewer, user: UserRow, args: { first: number; after?: string | null; kind?: EventKind | null }): Promise<Page<InteractionRow>> {
      checkFirst('first', args.first);
      const cursors = cursorsFor(await ids(), viewer.tenantId, 'history-cursor');
      const rows = await interactions.history({
        tenantId: viewer.tenantId,
        userId: user.id,
        limit: args.first + 1,
        beforeId: cursors.decode('after', args.after),
        kind: args.kind ?? undefined,
      });
      return toPage(rows, args.first, cursors, args.after);
    },

    /** What the user likes and dislikes now (one per item), newest first, as the events that set it. */
    async states(viewer: Viewer, user: UserRow, args: { first: number; after?: string | null }): Promise<Page<InteractionRow>> {
      checkFirst('first', args.first);
      const cursors = cursorsFor(await ids(), viewer.tenantId, 'history-cursor');
      const rows = await interactions.states({
        tenantId: viewer.tenantId,
        userId: user.id,
        limit: args.first + 1,
        beforeId: cursors.decode('after', args.after),
      });
      return toPage(rows, args.first, cursors, args.after);
    },

    /** userData: everything stored of one user, for a data-portability request (admin). */
    async dataOf(viewer: Viewer, externalId: string): Promise<UserRow> {
      requireAdmin(viewer);
      return find(viewer, 'userData', 'userId', externalId);
    },

    /**
     * Whether each interaction is its pair's current state (not replaced by a later event or
     * undone since), for DataLoader: one query for a page.
     */
    async current(viewer: Viewer, rows: readonly InteractionRow[]): Promise<boolean[]> {
      const events = await interactions.currentEvents(viewer.tenantId, rows);
      return rows.map((r) => r.kind !== 'CLEAR' && events.get(pairKey(r.userId, r.itemId)) === r.id);
    },

    /** The tenant's users in creation order (admin); with a taste group's id, its members. */
    async list(viewer: Viewer, first: number, after: string | null | undefined, groupId?: string): Promise<Page<UserRow>> {
      requireAdmin(viewer);
      checkFirst('first', first);
      if (groupId !== undefined && !(await groupExists(viewer.tenantId, groupId))) throw notFound(`taste group ${show(groupId)}`);
      const cursors = cursorsFor(await ids(), viewer.tenantId, 'user-cursor');
      const rows = await users.list(viewer.tenantId, first + 1, cursors.decode('after', after), groupId);
      return toPage(rows, first, cursors, after);
    },

    /** For DataLoader: users by internal id, one entry per id, in order. */
    byIds: (viewer: Viewer, ids: readonly number[]) => users.findByIds(viewer.tenantId, ids),
  };
}

export type UserService = ReturnType<typeof createUserService>;
