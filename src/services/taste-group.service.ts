// Taste groups: a snapshot groups the tenant's users by their representations (k-means++,
// k by silhouette or the admin's), describes each group (its size, centroid, the users
// nearest it, what it likes and dislikes more than the tenant as a whole, its preference
// tokens), and measures the grouping (silhouette, Davies-Bouldin, Calinski-Harabasz, and the
// adjusted Rand index against the snapshot before it). Written whole in one transaction.
import { AppError, badInput, notFound } from '../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import { largestK } from '../clustering/choose-k.js';
import { groupPointsOffThread } from './grouping-off-thread.js';
import { topByLift } from '../clustering/lift.js';
import { normalizeRows } from '../clustering/nearest.js';
import { adjustedRandIndex } from '../clustering/quality.js';
import { columns, layoutOf } from '../clustering/tokens.js';
import type { GroupRow, SnapshotRow, SnapshotTrigger, TasteGroupRepository } from '../repositories/taste-group.repository.js';
import type { UserEmbeddingRepository } from '../repositories/user-embedding.repository.js';
import type { UserEmbeddings } from './user-embedding.service.js';
import { requireAdmin, type Viewer } from './viewer.js';
import { show } from './validation.js';

export interface TasteGroupSettings {
  minK: number;
  maxK: number;
  /** Users the silhouette is measured on (it is quadratic); k-means itself uses them all. */
  sampleSize: number;
  representatives: number;
  /** Liked and disliked items shown per group. */
  topItems: number;
  /** Pseudo-users that shrink a group's like rate toward the tenant's (see clustering/lift.ts). */
  liftPrior: number;
  /** An item needs this many of the group's users to be listed for it. */
  minItemUsers: number;
  /** Snapshots kept per tenant (older ones are deleted with their members). */
  keepSnapshots: number;
  seed: number;
}

export interface TasteGroupDeps {
  groups: TasteGroupRepository;
  embeddings: Pick<UserEmbeddingRepository, 'matrix'>;
  userEmbeddings: Pick<UserEmbeddings, 'refresh'>;
  bus: EventBus;
  settings: TasteGroupSettings;
  log: Logger;
}

const MAX_K = 50;
const TOKENS_SHOWN = 3;

export function createTasteGroups(o: TasteGroupDeps) {
  const { settings } = o;
  // One computation per tenant (and k) at a time in this process: a second caller shares it.
  const running = new Map<string, Promise<SnapshotRow>>();

  async function compute(tenantId: string, trigger: SnapshotTrigger, k: number | undefined): Promise<SnapshotRow> {
    const started = Date.now();
    const refreshed = await o.userEmbeddings.refresh(tenantId);
    const matrix = await o.embeddings.matrix(tenantId, refreshed.model);
    const n = matrix.userIds.length;
    const needed = Math.max(k ?? settings.minK, 2) + 1;
    if (n < needed) {
      throw new AppError('CONFLICT', `too few users to group: ${n} have enough history (2 likes and 2 dislikes), ${needed} are needed`);
    }
    const embedded = Date.now();
    // Users are grouped by their taste part (clustering/tokens.ts), in cosine geometry as
    // similarUsers: a user's direction of taste, not its strength.
    const layout = layoutOf(matrix.data, matrix.dim);
    const taste = columns(matrix.data, matrix.dim, 0, layout.tasteDim);
    const points = { n, dim: layout.tasteDim, data: normalizeRows(taste, layout.tasteDim) };
    const g = await groupPointsOffThread(points, {
      k,
      minK: settings.minK,
      maxK: Math.min(largestK(settings.maxK, layout), n - 1),
      sampleSize: settings.sampleSize,
      representatives: settings.representatives,
      seed: settings.seed,
    });
    const clustered = Date.now();

    const previous = await o.groups.latest(tenantId);
    let stability: number | null = null;
    if (previous) {
      const before = await o.groups.labels(tenantId, previous.id);
      const both = matrix.userIds.flatMap((id, i) => (before.has(id) ? [[before.get(id)!, g.ordinals[i]]] : []));
      stability =
        both.length >= 2
          ? adjustedRandIndex(
              both.map((p) => p[0]),
              both.map((p) => p[1]),
            )
          : null;
    }

    const counts = await o.groups.itemCounts(tenantId, matrix.userIds, [...g.ordinals]);
    const tenantLikes = new Map<number, number>();
    const tenantDislikes = new Map<number, number>();
    const byGroup = new Map<number, typeof counts>();
    for (const c of counts) {
      tenantLikes.set(c.itemId, (tenantLikes.get(c.itemId) ?? 0) + c.likes);
      tenantDislikes.set(c.itemId, (tenantDislikes.get(c.itemId) ?? 0) + c.dislikes);
      const list = byGroup.get(c.ordinal);
      if (list) list.push(c);
      else byGroup.set(c.ordinal, [c]);
    }
    const tokens = layout.tokensAt === null ? null : { n, dim: layout.tokensDim, data: columns(matrix.data, matrix.dim, layout.tokensAt, layout.tokensDim) };
    const groups: Omit<GroupRow, 'id' | 'snapshotId'>[] = g.centroids.map((centroid, c) => {
      const ordinal = c + 1;
      const mine = byGroup.get(ordinal) ?? [];
      const lift = { groupUsers: g.sizes[c], tenantUsers: n, prior: settings.liftPrior, minCount: settings.minItemUsers, limit: settings.topItems };
      const liked = topByLift(
        mine.map((x) => ({ itemId: x.itemId, group: x.likes, tenant: tenantLikes.get(x.itemId)! })),
        lift,
      );
      const disliked = topByLift(
        mine.map((x) => ({ itemId: x.itemId, group: x.dislikes, tenant: tenantDislikes.get(x.itemId)! })),
        lift,
      );
      return {
        ordinal,
        size: g.sizes[c],
        centroid,
        representatives: g.representatives[c].map((i) => matrix.userIds[i]),
        liked: liked.map((x) => ({ itemId: x.itemId, lift: x.lift, users: x.count })),
        disliked: disliked.map((x) => ({ itemId: x.itemId, lift: x.lift, users: x.count })),
        tokens: tokens ? dominantTokens(tokens, g.ordinals, ordinal) : [],
      };
    });
    const id = await o.groups.insert(tenantId, {
      snapshot: {
        model: refreshed.model,
        trigger,
        k: g.k,
        kSource: g.kSource,
        users: n,
        silhouette: g.silhouette,
        daviesBouldin: g.daviesBouldin,
        calinskiHarabasz: g.calinskiHarabasz,
        stability,
        previousId: previous?.id ?? null,
        details: {
          tried: g.tried,
          silhouetteSample: Math.min(n, settings.sampleSize),
          explained: g.explained,
          embeddingsComputed: refreshed.computed,
          seconds: { embeddings: (embedded - started) / 1000, clustering: (clustered - embedded) / 1000, total: (Date.now() - started) / 1000 },
        },
      },
      groups,
      members: {
        userIds: matrix.userIds,
        ordinals: [...g.ordinals],
        x: [...g.coordinates.filter((_, i) => i % 2 === 0)],
        y: [...g.coordinates.filter((_, i) => i % 2 === 1)],
      },
    });
    await o.groups.prune(tenantId, settings.keepSnapshots);
    o.log.info(
      { tenantId, snapshotId: id, k: g.k, users: n, silhouette: g.silhouette, stability, seconds: (Date.now() - started) / 1000 },
      'taste groups refreshed',
    );
    await o.bus.publish({ type: 'taste-groups-refreshed', tenantId, snapshotId: id });
    return (await o.groups.snapshot(tenantId, id))!;
  }

  return {
    /** Tenants with interactions since their latest snapshot: the hourly fan-out groups them again. */
    tenantsDue: (): Promise<string[]> => o.groups.tenantsDue(),

    /** A new snapshot now (embeddings refreshed first). Shared by concurrent callers for one tenant. */
    refresh(tenantId: string, trigger: SnapshotTrigger, k?: number): Promise<SnapshotRow> {
      const key = `${tenantId}:${k ?? ''}`;
      let pending = running.get(key);
      if (!pending) {
        pending = compute(tenantId, trigger, k).finally(() => running.delete(key));
        running.set(key, pending);
      }
      return pending;
    },

    /** refreshTasteGroups: an admin's k, checked, or k by silhouette. */
    async refreshNow(viewer: Viewer, k: number | null | undefined): Promise<SnapshotRow> {
      requireAdmin(viewer);
      if (k !== null && k !== undefined && (!Number.isInteger(k) || k < 1 || k > MAX_K)) {
        throw badInput(`k: expected an integer from 1 to ${MAX_K}, got ${k}`, [{ field: 'k', message: `expected 1 to ${MAX_K}` }]);
      }
      return this.refresh(viewer.tenantId, 'MANUAL', k ?? undefined);
    },

    /** The snapshot asked for, or the latest; null when the tenant has none yet. */
    async snapshot(viewer: Viewer, id: string | null | undefined): Promise<SnapshotRow | null> {
      requireAdmin(viewer);
      if (id === null || id === undefined) return (await o.groups.latest(viewer.tenantId)) ?? null;
      const row = await o.groups.snapshot(viewer.tenantId, id);
      if (!row) throw notFound(`taste group snapshot ${show(id)}`);
      return row;
    },

    async groupsOf(viewer: Viewer, snapshotId: string): Promise<GroupRow[]> {
      requireAdmin(viewer);
      return o.groups.groups(viewer.tenantId, snapshotId);
    },

    async group(viewer: Viewer, id: string): Promise<GroupRow> {
      requireAdmin(viewer);
      const row = await o.groups.group(viewer.tenantId, id);
      if (!row) throw notFound(`taste group ${show(id)}`);
      return row;
    },

    /** The user's group in the latest snapshot; null if they were not grouped in it. */
    async groupOfUser(viewer: Viewer, userId: number): Promise<GroupRow | null> {
      requireAdmin(viewer);
      const latest = await o.groups.latest(viewer.tenantId);
      if (!latest) return null;
      const groupId = (await o.groups.groupsOfUsers(viewer.tenantId, latest.id, [userId])).get(userId);
      return groupId ? ((await o.groups.group(viewer.tenantId, groupId)) ?? null) : null;
    },

    async points(viewer: Viewer, snapshotId: string, first: number) {
      requireAdmin(viewer);
      if (!Number.isInteger(first) || first < 1 || first > 100_000)
        throw badInput(`first: expected an integer from 1 to 100000, got ${first}`, [{ field: 'first', message: 'expected 1 to 100000' }]);
      return o.groups.points(viewer.tenantId, snapshotId, first);
    },
  };
}

/** The group's strongest preference tokens: its members' mean activation of each, strongest first. */
function dominantTokens(m: { n: number; dim: number; data: Float32Array }, ordinals: Int32Array, ordinal: number) {
  const mean = new Float64Array(m.dim);
  let members = 0;
  for (let i = 0; i < m.n; i++) {
    if (ordinals[i] !== ordinal) continue;
    members++;
    for (let d = 0; d < m.dim; d++) mean[d] += m.data[i * m.dim + d];
  }
  return [...mean]
    .map((sum, token) => ({ token, activation: members ? sum / members : 0 }))
    .sort((a, b) => b.activation - a.activation || a.token - b.token)
    .slice(0, TOKENS_SHOWN);
}

export type TasteGroups = ReturnType<typeof createTasteGroups>;
