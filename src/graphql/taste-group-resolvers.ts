// Resolvers of users, similar users and taste groups (admin). Adapters only: unpack
// arguments, call one service, shape rows for the schema.
import type DataLoader from 'dataloader';
import type { ItemLiftJson, SnapshotRow } from '../services/records.js';
import type { Context } from './context.js';
import type { Resolvers } from './generated/resolvers.js';

const seconds = (row: SnapshotRow, key: string) => (row.details.seconds as Record<string, number> | undefined)?.[key] ?? 0;

export const tasteGroupResolvers: Resolvers = {
  Query: {
    users: (_, args, ctx) => ctx.services.users.list(ctx.viewer, args.first, args.after, args.tasteGroup ?? undefined),
    similarUsers: (_, args, ctx) => ctx.services.similarUsers.similar(ctx.viewer, args.userId, args.first, args.after),
    tasteGroups: (_, args, ctx) => ctx.services.tasteGroups.snapshot(ctx.viewer, args.snapshot),
    tasteGroup: (_, args, ctx) => ctx.services.tasteGroups.group(ctx.viewer, args.id),
  },
  Mutation: {
    refreshTasteGroups: (_, args, ctx) => ctx.services.tasteGroups.refreshNow(ctx.viewer, args.k),
  },
  Tenant: {
    activity: (_, args, ctx) => ctx.services.tenants.activity(ctx.viewer, args.days),
  },
  User: {
    tasteGroup: (user, _, ctx) => ctx.services.tasteGroups.groupOfUser(ctx.viewer, user.id),
    tasteProfile: (user, _, ctx) => ctx.services.userEmbeddings.profile(ctx.viewer, user.id),
  },
  TasteProfile: {
    embedding: (p) => Array.from(p.embedding),
    tokenActivations: (p) => p.tokenActivations && Array.from(p.tokenActivations),
  },
  SimilarUser: {
    user: (s, _, ctx) => ctx.loaders.userById.load(s.userId),
    sharedLikes: async (s, _, ctx) => ({ count: s.sharedLikes.count, items: await loadAll(ctx.loaders.itemById, s.sharedLikes.itemIds) }),
  },
  TasteGroupSnapshot: {
    kChosenBy: (row) => row.kSource,
    modelVersion: (row, _, ctx) => ctx.services.training.versionOfModel(ctx.viewer, row.model),
    kTried: (row) => (row.details.tried as { k: number; silhouette: number }[] | undefined) ?? [],
    silhouetteSample: (row) => (row.details.silhouetteSample as number | undefined) ?? row.users,
    embeddingSeconds: (row) => seconds(row, 'embeddings'),
    clusteringSeconds: (row) => seconds(row, 'clustering'),
    groups: (row, _, ctx) => ctx.services.tasteGroups.groupsOf(ctx.viewer, row.id),
    points: async (row, args, ctx) =>
      (await ctx.services.tasteGroups.points(ctx.viewer, row.id, args.first)).map((p) => ({ externalId: p.externalId, group: p.groupId, x: p.x, y: p.y })),
  },
  TasteGroup: {
    centroid: (row) => Array.from(row.centroid),
    representatives: (row, _, ctx) => loadAll(ctx.loaders.userById, row.representatives),
    likedItems: (row, _, ctx) => liftsOf(row.liked, ctx),
    dislikedItems: (row, _, ctx) => liftsOf(row.disliked, ctx),
    preferenceTokens: (row) => row.tokens,
    members: (row, args, ctx) => ctx.services.users.list(ctx.viewer, args.first, args.after, row.id),
    // A group's snapshot exists (a foreign key): snapshot() finds it or answers NOT_FOUND.
    snapshot: async (row, _, ctx) => (await ctx.services.tasteGroups.snapshot(ctx.viewer, row.snapshotId))!,
  },
};

/** Every key through the loader (one batch); a key it cannot load fails the field, as load() would. */
const loadAll = <K, V>(loader: DataLoader<K, V>, keys: readonly K[]) => Promise.all(keys.map((key) => loader.load(key)));

function liftsOf(lifts: ItemLiftJson[], ctx: Context) {
  return lifts.map((l) => ({ item: ctx.loaders.itemById.load(l.itemId), lift: l.lift, users: l.users }));
}
