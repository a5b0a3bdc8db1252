// Resolvers are adapters: unpack arguments, call one service method. Rules live in services.
import { GraphQLScalarType, Kind } from 'graphql';
import type { ApiKeyRole } from '../repositories/api-key.repository.js';
import type { EventKind, InteractionRow } from '../repositories/interaction.repository.js';
import type { ItemInput } from '../services/item.service.js';
import type { InteractionInput } from '../services/interaction.service.js';
import type { TenantRow } from '../repositories/tenant.repository.js';
import type { UserRow } from '../repositories/user.repository.js';
import type { ItemRow } from '../repositories/item.repository.js';
import type { Context } from './context.js';
import { ranked, type ScoreKey, type ScoredItems } from '../services/scoring.service.js';
import type { Feed } from '../services/feed.service.js';
import { checkFirst, decodeCursor, encodeCursor } from '../services/pagination.js';
import { feedUpdates, type FeedUpdate } from './feed-subscription.js';
import { badInput } from '../errors.js';
import { modelResolvers } from './model-resolvers.js';
import { tasteGroupResolvers } from './taste-group-resolvers.js';
import { lifecycleResolvers } from './lifecycle-resolvers.js';

const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
  parseValue: (value) => new Date(value as string),
  parseLiteral: (ast) => (ast.kind === Kind.STRING ? new Date(ast.value) : null) as Date,
});

type Args<T> = Record<string, unknown> & T;

/** A page of a feed: `first` entries after the rank in the cursor. */
function feedPage(feed: Feed, first: number, after: string | undefined | null) {
  checkFirst('first', first);
  const start = decodeCursor('after', after) ?? 0;
  const shown = feed.entries.slice(start, start + first);
  return {
    ...feed,
    edges: shown.map((entry) => ({ cursor: encodeCursor(entry.rank), node: entry })),
    // A live feed's entries may be the best of a longer ranking: past them there is more.
    pageInfo: {
      hasNextPage: start + first < feed.entries.length || feed.truncated === true,
      endCursor: shown.length ? encodeCursor(shown[shown.length - 1].rank) : null,
    },
  };
}

/** Adds each item's rank (1 = best score); `sorted` returns them best first, else in the order asked. */
function withRanks(result: ScoredItems, sorted: boolean) {
  const order = ranked(result).items;
  const rankOf = new Map(order.map((entry, i) => [entry, i + 1]));
  const items = (sorted ? order : result.items).map((entry) => ({ ...entry, rank: rankOf.get(entry)! }));
  return { ...result, items };
}

export const resolvers = {
  DateTime,
  Query: {
    tenant: (_: unknown, __: unknown, ctx: Context) => ctx.services.tenants.current(ctx.viewer),
    user: (_: unknown, args: Args<{ externalId: string }>, ctx: Context) => ctx.services.users.get(ctx.viewer, args.externalId),
    item: (_: unknown, args: Args<{ externalId: string }>, ctx: Context) => ctx.services.items.get(ctx.viewer, args.externalId),
    items: (_: unknown, args: Args<{ first: number; after?: string }>, ctx: Context) => ctx.services.items.list(ctx.viewer, args.first, args.after),
    score: async (_: unknown, args: Args<ScoreKey>, ctx: Context) => withRanks(await ctx.loaders.scores.load(args), false),
    rank: async (_: unknown, args: Args<ScoreKey>, ctx: Context) => withRanks(await ctx.loaders.scores.load(args), true),
    feed: async (_: unknown, args: Args<{ userId: string; first: number; after?: string }>, ctx: Context) =>
      feedPage(await ctx.services.feed.feed(ctx.viewer, args.userId), args.first, args.after),
    ...modelResolvers.Query,
    ...tasteGroupResolvers.Query,
    ...lifecycleResolvers.Query,
  },
  Subscription: {
    feedUpdated: {
      subscribe: (_: unknown, args: Args<{ userId: string; first: number }>, ctx: Context) => {
        if (!ctx.subscriptions) throw badInput('feedUpdated: subscriptions are served over WebSocket (graphql-ws) only');
        checkFirst('first', args.first);
        return feedUpdates({
          viewer: ctx.viewer,
          userId: args.userId,
          first: args.first,
          live: ctx.services.liveFeeds,
          ...ctx.subscriptions,
        });
      },
      resolve: (update: FeedUpdate, args: Args<{ first: number }>) => ({ reason: update.reason, feed: feedPage(update.feed, args.first, undefined) }),
    },
  },
  Mutation: {
    upsertItems: (_: unknown, args: Args<{ items: ItemInput[] }>, ctx: Context) => ctx.services.items.upsert(ctx.viewer, args.items),
    recordInteractions: async (_: unknown, args: Args<{ events: InteractionInput[] }>, ctx: Context) => {
      const interactions = await ctx.services.interactions.record(ctx.viewer, args.events);
      return { count: interactions.length, interactions };
    },
    recordInteraction: async (_: unknown, args: Args<{ event: InteractionInput }>, ctx: Context) =>
      (await ctx.services.interactions.record(ctx.viewer, [args.event]))[0],
    createApiKey: (_: unknown, args: Args<{ name: string; role: ApiKeyRole }>, ctx: Context) => ctx.services.apiKeys.create(ctx.viewer, args.name, args.role),
    revokeApiKey: (_: unknown, args: Args<{ id: string }>, ctx: Context) => ctx.services.apiKeys.revoke(ctx.viewer, args.id),
    ...modelResolvers.Mutation,
    ...tasteGroupResolvers.Mutation,
    ...lifecycleResolvers.Mutation,
  },
  Tenant: {
    counts: (_: TenantRow, __: unknown, ctx: Context) => ctx.services.tenants.counts(ctx.viewer),
    apiKeys: (_: TenantRow, __: unknown, ctx: Context) => ctx.services.apiKeys.list(ctx.viewer),
    ...modelResolvers.Tenant,
    ...tasteGroupResolvers.Tenant,
  },
  ModelVersion: modelResolvers.ModelVersion,
  TrainingRun: modelResolvers.TrainingRun,
  TasteProfile: tasteGroupResolvers.TasteProfile,
  SimilarUser: tasteGroupResolvers.SimilarUser,
  TasteGroupSnapshot: tasteGroupResolvers.TasteGroupSnapshot,
  TasteGroup: tasteGroupResolvers.TasteGroup,
  UserData: lifecycleResolvers.UserData,
  User: {
    ...tasteGroupResolvers.User,
    history: (user: UserRow, args: Args<{ first: number; after?: string; kind?: EventKind }>, ctx: Context) =>
      ctx.services.users.history(ctx.viewer, user, args),
  },
  Item: {
    embedding: (item: ItemRow) => Array.from(item.embedding),
  },
  Interaction: {
    id: (row: InteractionRow, _: unknown, ctx: Context) => ctx.services.opaqueIds.interaction(ctx.viewer, row.id),
    user: (row: InteractionRow, _: unknown, ctx: Context) => ctx.loaders.userById.load(row.userId),
    item: (row: InteractionRow, _: unknown, ctx: Context) => ctx.loaders.itemById.load(row.itemId),
    current: (row: InteractionRow, _: unknown, ctx: Context) => ctx.loaders.isCurrent.load(row),
  },
};
