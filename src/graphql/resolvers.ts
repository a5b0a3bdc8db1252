// Resolvers are adapters: unpack arguments, call one service method. Rules live in services.
import { GraphQLScalarType, Kind } from 'graphql';
import type { Resolvers } from './generated/resolvers.js';
import { ranked, type ScoredItems } from '../services/scoring.service.js';
import type { Feed } from '../services/feed.service.js';
import type { TrainingRunRow } from '../services/records.js';
import { checkFirst, decodeCursor, encodeCursor, pageInfo } from '../services/pagination.js';
import { feedUpdates, type FeedUpdate } from './feed-subscription.js';
import { trainingRunUpdates } from './training-run-subscription.js';
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

/** A page of a feed: `first` entries after the rank in the cursor. */
function feedPage(feed: Feed, first: number, after: string | undefined | null) {
  checkFirst('first', first);
  const start = decodeCursor('after', after) ?? 0;
  const shown = feed.entries.slice(start, start + first);
  return {
    ...feed,
    edges: shown.map((entry) => ({ cursor: encodeCursor(entry.rank), node: entry })),
    // A live feed's entries may be the best of a longer ranking: past them there is more.
    pageInfo: pageInfo(
      shown.map((entry) => encodeCursor(entry.rank)),
      start + first < feed.entries.length || feed.truncated === true,
      after,
    ),
  };
}

/** Adds each item's rank (1 = best score); `sorted` returns them best first, else in the order asked. */
function withRanks(result: ScoredItems, sorted: boolean) {
  const order = ranked(result).items;
  const rankOf = new Map(order.map((entry, i) => [entry, i + 1]));
  const items = (sorted ? order : result.items).map((entry) => ({ ...entry, rank: rankOf.get(entry)! }));
  return { ...result, items };
}

export const resolvers: Resolvers = {
  ApiKeyRole: { APP: 'app', ADMIN: 'admin', app: 'app', admin: 'admin' },
  DateTime,
  Query: {
    tenant: (_, __, ctx) => ctx.services.tenants.current(ctx.viewer),
    user: (_, args, ctx) => ctx.services.users.get(ctx.viewer, args.externalId),
    item: (_, args, ctx) => ctx.services.items.get(ctx.viewer, args.externalId),
    items: (_, args, ctx) => ctx.services.items.list(ctx.viewer, args.first, args.after),
    score: async (_, args, ctx) => withRanks(await ctx.loaders.scores.load({ ...args, field: 'score' }), false),
    rank: async (_, args, ctx) => withRanks(await ctx.loaders.scores.load({ ...args, field: 'rank' }), true),
    feed: async (_, args, ctx) => feedPage(await ctx.services.feed.feed(ctx.viewer, args.userId), args.first, args.after),
    ...modelResolvers.Query,
    ...tasteGroupResolvers.Query,
    ...lifecycleResolvers.Query,
  },
  Subscription: {
    feedUpdated: {
      subscribe: (_, args, ctx) => {
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
      resolve: (update: FeedUpdate, args: { first: number }) => ({ reason: update.reason, feed: feedPage(update.feed, args.first, undefined) }),
    },
    trainingRunUpdated: {
      subscribe: (_, args, ctx) => {
        if (!ctx.subscriptions) throw badInput('trainingRunUpdated: subscriptions are served over WebSocket (graphql-ws) only');
        const { connection, limits } = ctx.subscriptions;
        return trainingRunUpdates(() => ctx.services.trainingRunUpdates.follow(ctx.viewer, args.id), connection, limits);
      },
      resolve: (run: TrainingRunRow) => run,
    },
  },
  Mutation: {
    upsertItems: (_, args, ctx) => ctx.services.items.upsert(ctx.viewer, args.items),
    recordInteractions: async (_, args, ctx) => {
      const interactions = await ctx.services.interactions.record(ctx.viewer, args.events);
      return { count: interactions.length, interactions };
    },
    recordInteraction: async (_, args, ctx) => (await ctx.services.interactions.record(ctx.viewer, [args.event]))[0],
    createApiKey: (_, args, ctx) => ctx.services.apiKeys.create(ctx.viewer, args.name, args.role),
    revokeApiKey: (_, args, ctx) => ctx.services.apiKeys.revoke(ctx.viewer, args.id),
    ...modelResolvers.Mutation,
    ...tasteGroupResolvers.Mutation,
    ...lifecycleResolvers.Mutation,
  },
  Tenant: {
    counts: (_, __, ctx) => ctx.services.tenants.counts(ctx.viewer),
    apiKeys: (_, __, ctx) => ctx.services.apiKeys.list(ctx.viewer),
    ...modelResolvers.Tenant,
    ...tasteGroupResolvers.Tenant,
  },
  ModelVersion: modelResolvers.ModelVersion,
  ModelEvaluation: modelResolvers.ModelEvaluation,
  TrainingRun: modelResolvers.TrainingRun,
  TasteProfile: tasteGroupResolvers.TasteProfile,
  SimilarUser: tasteGroupResolvers.SimilarUser,
  TasteGroupSnapshot: tasteGroupResolvers.TasteGroupSnapshot,
  TasteGroup: tasteGroupResolvers.TasteGroup,
  UserData: lifecycleResolvers.UserData,
  User: {
    ...tasteGroupResolvers.User,
    history: (user, args, ctx) => ctx.services.users.history(ctx.viewer, user, args),
  },
  Item: {
    embedding: (item) => Array.from(item.embedding),
  },
  Interaction: {
    id: (row, _, ctx) => ctx.services.opaqueIds.interaction(ctx.viewer, row.id),
    user: (row, _, ctx) => ctx.loaders.userById.load(row.userId),
    item: (row, _, ctx) => ctx.loaders.itemById.load(row.itemId),
    current: (row, _, ctx) => ctx.loaders.isCurrent.load(row),
  },
};
