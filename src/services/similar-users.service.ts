// similarUsers: the users nearest one user by their stored representations (cosine), with the
// items both liked. Each API instance holds one tenant's representations in memory (a
// matrix of unit rows, 4 bytes per number: 100,000 users of 10 dimensions are 4 MB) and
// searches it exactly; a new snapshot anywhere (an event) or a minute's age reloads it.
// (A row is the taste part of a representation: 10 numbers for the shipped model's 10 tokens.)
import { nearestRows, normalizeRows } from '../clustering/nearest.js';
import { columns, layoutOf } from '../clustering/tokens.js';
import type { UserEmbeddingRepository } from '../repositories/user-embedding.repository.js';
import type { UserRepository, UserRow } from '../repositories/user.repository.js';
import { notFound } from '../errors.js';
import { checkFirst, decodeCursor, encodeCursor, pageInfo, type PageInfo } from './pagination.js';
import { show } from './validation.js';
import type { UserEmbeddings } from './user-embedding.service.js';
import { requireAdmin, type Viewer } from './viewer.js';

export interface SimilarUser {
  userId: number;
  similarity: number;
  sharedLikes: { count: number; itemIds: number[] };
}

export interface SimilarUsersPage {
  edges: { cursor: string; node: SimilarUser }[];
  pageInfo: PageInfo;
  /** The model whose representations were compared ("3", "base-1"). */
  model: string;
  /** Why the list is empty, when it is. */
  reason: string | null;
}

interface Index {
  model: string;
  at: number;
  userIds: number[];
  rowOf: Map<number, number>;
  dim: number;
  unit: Float32Array;
}

export interface SimilarUsersDeps {
  embeddings: Pick<UserEmbeddingRepository, 'matrix' | 'sharedLikes'>;
  userEmbeddings: Pick<UserEmbeddings, 'currentModel'>;
  users: Pick<UserRepository, 'findByExternalId'>;
  minPerKind: number;
  /** Items listed per similar user (count says how many in all). */
  sharedLikesShown?: number;
  ttlMs?: number;
}

/** Only so deep: a ranking of everyone is not what this is for. */
const MAX_DEPTH = 1000;

export function createSimilarUsers(o: SimilarUsersDeps) {
  const ttl = o.ttlMs ?? 60_000;
  const indexes = new Map<string, Promise<Index>>();

  async function load(tenantId: string, model: string): Promise<Index> {
    const m = await o.embeddings.matrix(tenantId, model);
    // Compared by their taste part, as taste groups are (clustering/tokens.ts).
    const { tasteDim } = layoutOf(m.data, m.dim);
    const unit = normalizeRows(columns(m.data, m.dim, 0, tasteDim), tasteDim);
    return { model, at: Date.now(), userIds: m.userIds, rowOf: new Map(m.userIds.map((id, i) => [id, i])), dim: tasteDim, unit };
  }

  async function indexOf(tenantId: string, model: string): Promise<Index> {
    const cached = indexes.get(tenantId);
    if (cached) {
      const index = await cached.catch(() => undefined);
      if (index && index.model === model && Date.now() - index.at < ttl) return index;
      if (indexes.get(tenantId) !== cached) return indexOf(tenantId, model);
    }
    const loading = load(tenantId, model);
    indexes.set(tenantId, loading);
    loading.catch(() => indexes.get(tenantId) === loading && indexes.delete(tenantId));
    return loading;
  }

  return {
    /** A snapshot (and with it new embeddings) was written: read them again on next use. */
    forget(tenantId: string) {
      indexes.delete(tenantId);
    },

    async similar(viewer: Viewer, externalId: string, first: number, after: string | null | undefined): Promise<SimilarUsersPage> {
      requireAdmin(viewer);
      checkFirst('first', first);
      const start = decodeCursor('after', after) ?? 0;
      const user: UserRow | undefined = await o.users.findByExternalId(viewer.tenantId, externalId);
      if (!user) throw notFound(`user ${show(externalId)}`);
      const { key } = await o.userEmbeddings.currentModel(viewer.tenantId);
      const index = await indexOf(viewer.tenantId, key);
      const row = index.rowOf.get(user.id);
      const empty = (reason: string): SimilarUsersPage => ({ edges: [], pageInfo: pageInfo([], false, after), model: key, reason });
      if (row === undefined) {
        return empty(
          `user ${show(externalId)} has no representation yet: users need ${o.minPerKind} likes and ${o.minPerKind} dislikes, ` +
            'and representations are computed after each promotion, hourly for changed users, and by refreshTasteGroups',
        );
      }
      const depth = Math.min(start + first + 1, MAX_DEPTH);
      const neighbours = nearestRows(index.unit, index.dim, row, depth).slice(start);
      const shown = neighbours.slice(0, first);
      const shared = await o.embeddings.sharedLikes(
        viewer.tenantId,
        user.id,
        shown.map((n) => index.userIds[n.row]),
        o.sharedLikesShown ?? 10,
      );
      const edges = shown.map((n, i) => {
        const userId = index.userIds[n.row];
        return {
          cursor: encodeCursor(start + i + 1),
          node: { userId, similarity: n.similarity, sharedLikes: shared.get(userId) ?? { count: 0, itemIds: [] } },
        };
      });
      return {
        edges,
        pageInfo: pageInfo(
          edges.map((e) => e.cursor),
          neighbours.length > first && start + first < MAX_DEPTH,
          after,
        ),
        model: key,
        // Past the last page there is simply nothing more; on the first, say why it is empty.
        reason: edges.length || start > 0 ? null : 'no other user of this tenant has a representation yet',
      };
    },
  };
}

export type SimilarUsers = ReturnType<typeof createSimilarUsers>;
