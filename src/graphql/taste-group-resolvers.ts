// Resolvers of users, similar users and taste groups (admin). Adapters only: unpack
// arguments, call one service, shape rows for the schema.
import type { GroupRow, ItemLiftJson, SnapshotRow } from '../repositories/taste-group.repository.js';
import type { UserRow } from '../repositories/user.repository.js';
import type { SimilarUser } from '../services/similar-users.service.js';
import type { TasteProfile } from '../services/user-embedding.service.js';
import type { Context } from './context.js';

type Args<T> = Record<string, unknown> & T;

const seconds = (row: SnapshotRow, key: string) => (row.details.seconds as Record<string, number> | undefined)?.[key] ?? 0;

export const tasteGroupResolvers = {
  Query: {
    users: (_: unknown, args: Args<{ first: number; after?: string; tasteGroup?: string }>, ctx: Context) =>
      ctx.services.users.list(ctx.viewer, args.first, args.after, args.tasteGroup ?? undefined),
    similarUsers: (_: unknown, args: Args<{ userId: string; first: number; after?: string }>, ctx: Context) =>
      ctx.services.similarUsers.similar(ctx.viewer, args.userId, args.first, args.after),
    tasteGroups: (_: unknown, args: Args<{ snapshot?: string }>, ctx: Context) => ctx.services.tasteGroups.snapshot(ctx.viewer, args.snapshot),
    tasteGroup: (_: unknown, args: Args<{ id: string }>, ctx: Context) => ctx.services.tasteGroups.group(ctx.viewer, args.id),
  },
  Mutation: {
    refreshTasteGroups: (_: unknown, args: Args<{ k?: number | null }>, ctx: Context) => ctx.services.tasteGroups.refreshNow(ctx.viewer, args.k),
  },
  Tenant: {
    activity: (_: unknown, args: Args<{ days: number }>, ctx: Context) => ctx.services.tenants.activity(ctx.viewer, args.days),
  },
  User: {
    tasteGroup: (user: UserRow, _: unknown, ctx: Context) => ctx.services.tasteGroups.groupOfUser(ctx.viewer, user.id),
    tasteProfile: (user: UserRow, _: unknown, ctx: Context) => ctx.services.userEmbeddings.profile(ctx.viewer, user.id),
  },
  TasteProfile: {
    embedding: (p: TasteProfile) => Array.from(p.embedding),
    tokenActivations: (p: TasteProfile) => p.tokenActivations && Array.from(p.tokenActivations),
  },
  SimilarUser: {
    user: (s: SimilarUser, _: unknown, ctx: Context) => ctx.loaders.userById.load(s.userId),
    sharedLikes: (s: SimilarUser, _: unknown, ctx: Context) => ({ count: s.sharedLikes.count, items: ctx.loaders.itemById.loadMany(s.sharedLikes.itemIds) }),
  },
  TasteGroupSnapshot: {
    kChosenBy: (row: SnapshotRow) => row.kSource,
    kTried: (row: SnapshotRow) => (row.details.tried as { k: number; silhouette: number }[] | undefined) ?? [],
    silhouetteSample: (row: SnapshotRow) => (row.details.silhouetteSample as number | undefined) ?? row.users,
    embeddingSeconds: (row: SnapshotRow) => seconds(row, 'embeddings'),
    clusteringSeconds: (row: SnapshotRow) => seconds(row, 'clustering'),
    groups: (row: SnapshotRow, _: unknown, ctx: Context) => ctx.services.tasteGroups.groupsOf(ctx.viewer, row.id),
    points: async (row: SnapshotRow, args: Args<{ first: number }>, ctx: Context) =>
      (await ctx.services.tasteGroups.points(ctx.viewer, row.id, args.first)).map((p) => ({ externalId: p.externalId, group: p.groupId, x: p.x, y: p.y })),
  },
  TasteGroup: {
    centroid: (row: GroupRow) => Array.from(row.centroid),
    representatives: (row: GroupRow, _: unknown, ctx: Context) => ctx.loaders.userById.loadMany(row.representatives),
    likedItems: (row: GroupRow, _: unknown, ctx: Context) => liftsOf(row.liked, ctx),
    dislikedItems: (row: GroupRow, _: unknown, ctx: Context) => liftsOf(row.disliked, ctx),
    preferenceTokens: (row: GroupRow) => row.tokens,
    members: (row: GroupRow, args: Args<{ first: number; after?: string }>, ctx: Context) =>
      ctx.services.users.list(ctx.viewer, args.first, args.after, row.id),
    snapshot: (row: GroupRow, _: unknown, ctx: Context) => ctx.services.tasteGroups.snapshot(ctx.viewer, row.snapshotId),
  },
};

function liftsOf(lifts: ItemLiftJson[], ctx: Context) {
  return lifts.map((l) => ({ item: ctx.loaders.itemById.load(l.itemId), lift: l.lift, users: l.users }));
}
