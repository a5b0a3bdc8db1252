// The data lifecycle over GraphQL: undo, erase a user, delete items, export a user's data.
// Adapters only: each calls one service.
import type { UserRow } from '../services/records.js';
import type { Cleared } from '../services/interaction.service.js';
import type { Resolvers } from './generated/resolvers.js';

/** The parent of UserData's fields: the user whose data it is. */
export interface UserDataParent {
  user: UserRow;
}

const asPayload = (cleared: Cleared) => ({
  userId: cleared.userExternalId,
  itemId: cleared.itemExternalId,
  cleared: cleared.previous !== null,
  previousKind: cleared.previous,
  event: cleared.event,
});

export const lifecycleResolvers: Resolvers = {
  Query: {
    userData: async (_, args, ctx) => ({ user: await ctx.services.users.dataOf(ctx.viewer, args.userId) }),
  },
  Mutation: {
    clearInteractions: async (_, args, ctx) => {
      const results = (await ctx.services.interactions.clear(ctx.viewer, args.events)).map(asPayload);
      return { count: results.filter((r) => r.cleared).length, results };
    },
    clearInteraction: async (_, args, ctx) => asPayload((await ctx.services.interactions.clear(ctx.viewer, [{ userId: args.userId, itemId: args.itemId }]))[0]),
    deleteUser: (_, args, ctx) => ctx.services.userErasure.erase(ctx.viewer, args.userId),
    deleteItems: async (_, args, ctx) => {
      const deleted = await ctx.services.items.delete(ctx.viewer, args.ids);
      return { ...deleted, count: deleted.itemIds.length, ids: deleted.externalIds };
    },
  },
  UserData: {
    currentStates: ({ user }, args, ctx) => ctx.services.users.states(ctx.viewer, user, args),
    history: ({ user }, args, ctx) => ctx.services.users.history(ctx.viewer, user, args),
  },
};
