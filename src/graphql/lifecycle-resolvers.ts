// The data lifecycle over GraphQL: undo, erase a user, delete items, export a user's data.
// Adapters only: each calls one service.
import type { UserRow } from '../repositories/user.repository.js';
import type { ClearInput, Cleared } from '../services/interaction.service.js';
import type { Context } from './context.js';

type Args<T> = Record<string, unknown> & T;

const asPayload = (cleared: Cleared) => ({
  userId: cleared.userExternalId,
  itemId: cleared.itemExternalId,
  cleared: cleared.previous !== null,
  previousKind: cleared.previous,
  event: cleared.event,
});

export const lifecycleResolvers = {
  Query: {
    userData: async (_: unknown, args: Args<{ userId: string }>, ctx: Context) => ({ user: await ctx.services.users.dataOf(ctx.viewer, args.userId) }),
  },
  Mutation: {
    clearInteractions: async (_: unknown, args: Args<{ events: ClearInput[] }>, ctx: Context) => {
      const results = (await ctx.services.interactions.clear(ctx.viewer, args.events)).map(asPayload);
      return { count: results.filter((r) => r.cleared).length, results };
    },
    clearInteraction: async (_: unknown, args: Args<ClearInput>, ctx: Context) =>
      asPayload((await ctx.services.interactions.clear(ctx.viewer, [{ userId: args.userId, itemId: args.itemId }]))[0]),
    deleteUser: (_: unknown, args: Args<{ userId: string }>, ctx: Context) => ctx.services.userErasure.erase(ctx.viewer, args.userId),
    deleteItems: async (_: unknown, args: Args<{ ids: string[] }>, ctx: Context) => {
      const deleted = await ctx.services.items.delete(ctx.viewer, args.ids);
      return { ...deleted, count: deleted.itemIds.length, ids: deleted.externalIds };
    },
  },
  UserData: {
    currentStates: ({ user }: { user: UserRow }, args: Args<{ first: number; after?: string }>, ctx: Context) =>
      ctx.services.users.states(ctx.viewer, user, args),
    history: ({ user }: { user: UserRow }, args: Args<{ first: number; after?: string }>, ctx: Context) => ctx.services.users.history(ctx.viewer, user, args),
  },
};
