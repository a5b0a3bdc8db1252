// A user's feed: candidates from the tenant's items (the newest ones and the ones nearest the
// user's likes), minus what the user already rated, ranked by the model through the scoring
// service. The same state gives the same order: scores are deterministic, ties go to the
// lower item id.
import type { InteractionRepository } from '../repositories/interaction.repository.js';
import type { ItemRepository, ItemRow } from '../repositories/item.repository.js';
import type { UserRepository } from '../repositories/user.repository.js';
import type { VectorIndex } from '../ranking/vector-index.js';
import { withVectors } from './item-vectors.js';
import type { TenantIndexes } from './tenant-indexes.js';
import { badInput } from '../errors.js';
import { checkExternalId } from './validation.js';
import type { History, ScoringService } from './scoring.service.js';
import type { Viewer } from './viewer.js';

export interface FeedOptions {
  users: UserRepository;
  interactions: InteractionRepository;
  items: ItemRepository;
  scoring: ScoringService;
  /** The tenant's item vector dimension (cached by the tenant service): the index is looked up by it. */
  embeddingDim: (viewer: Viewer) => Promise<number>;
  /**
   * Runs fn with the repositories' reads for tenantId in one transaction (Database.withTenant,
   * which nested calls join): the user's five reads cost one BEGIN and COMMIT, not five.
   */
  readTogether: <T>(tenantId: string, fn: () => Promise<T>) => Promise<T>;
  /** Candidates scored per feed. */
  poolSize: number;
  /** Share of the pool taken from the items nearest the user's likes (the rest: newest items). */
  nearShare: number;
  /** The tenants' vector indexes in this process (shared with the scoring service). */
  indexes: TenantIndexes;
}

export interface FeedEntry {
  item: ItemRow;
  score: number;
  rank: number;
}

export interface Feed {
  userId: string;
  entries: FeedEntry[];
  degraded: boolean;
  degradedReason: string | null;
  modelVersion: string | null;
  /** The entries are the best of a longer ranking (a live feed keeps only what it shows). */
  truncated?: boolean;
}

/** A feed with what ranked it: enough to merge new items in without ranking the pool again. */
export interface FeedState {
  feed: Feed;
  history: History;
  /** Items the user rated: never in the feed. */
  rated: ReadonlySet<number>;
}

type Scored = { item: ItemRow; score: number };

/** Best first, ties to the lower item id, numbered from 1: the same state gives the same order. */
const ranked = (scored: readonly Scored[]): FeedEntry[] =>
  [...scored].sort((a, b) => b.score - a.score || a.item.id - b.item.id).map((e, i) => ({ item: e.item, score: e.score, rank: i + 1 }));

export function createFeedService(o: FeedOptions) {
  const { indexes } = o;

  /** Items by internal id: those still there. */
  const itemRows = async (tenantId: string, ids: readonly number[]): Promise<ItemRow[]> =>
    (await o.items.findByIds(tenantId, ids)).filter((r): r is ItemRow => r !== undefined);

  /**
   * The pool's rows, in its order (those still there), with the same vectors as itemRows, taken
   * from the tenant's index where it holds them (item-vectors.ts): not 500 vectors from the
   * database for every feed.
   */
  async function poolRows(tenantId: string, ids: readonly number[], index: VectorIndex | undefined): Promise<ItemRow[]> {
    if (!index) return itemRows(tenantId, ids);
    const rows = await withVectors(o.items, tenantId, await o.items.summariesByIds(tenantId, ids), index);
    return rows.filter((r): r is ItemRow => r !== undefined);
  }

  /** The user's feed ranked from scratch, with the state that mergeItems builds on. */
  async function rank(viewer: Viewer, userId: string): Promise<FeedState> {
    const problems = checkExternalId('userId', userId);
    if (problems.length) throw badInput(`userId: ${problems[0].message}`, problems);
    // The user's state in one transaction. The index (whose first build runs in the
    // background, in transactions of its own) and the pool's rows come after it, and the
    // model scores last, holding no connection.
    const { rated, recent, history } = await o.readTogether(viewer.tenantId, async () => {
      const user = await o.users.findByExternalId(viewer.tenantId, userId);
      const rated = user ? await o.interactions.ratedItemIds(viewer.tenantId, user.id) : new Set<number>();
      const recent = (await o.items.recentIds(viewer.tenantId, o.poolSize + rated.size)).filter((id) => !rated.has(id));
      // Loaded once: the model reads this history, and its likes steer the nearest items.
      const history = recent.length ? await o.scoring.history(viewer, user) : [];
      return { rated, recent, history };
    });
    if (recent.length === 0) return { feed: { userId, entries: [], degraded: false, degradedReason: null, modelVersion: null }, history, rated };
    const liked = history.filter((h) => h.like).map((h) => h.vector);
    // By the tenant's dimension, not the likes': a user with no likes yet (a cold start, or only
    // dislikes) gets no nearest items, but the newest items' vectors still come from the index
    // (at dimension 512, 500 rows took 6.3 ms with vectors and 1.5 ms without).
    const index = await indexes.indexFor(viewer.tenantId, await o.embeddingDim(viewer));
    const near = index && liked.length ? await index.nearest(liked, Math.round(o.poolSize * o.nearShare), rated) : [];
    const pool = [...new Set([...near, ...recent])].slice(0, o.poolSize);
    const scored = await o.scoring.scoreRows(viewer, userId, history, await poolRows(viewer.tenantId, pool, index));
    const feed = {
      userId,
      entries: ranked(scored.items),
      degraded: scored.degraded,
      degradedReason: scored.degradedReason,
      modelVersion: scored.modelVersion,
    };
    return { feed, history, rated };
  }

  return {
    async feed(viewer: Viewer, userId: string): Promise<Feed> {
      return (await rank(viewer, userId)).feed;
    },

    rank,

    /**
     * Merges new or changed items into a ranked feed: only they are scored (for this user's
     * unchanged history), so the cost grows with the new items, not with the pool. The best
     * poolSize entries are kept. Undefined when the scores would not be comparable (the model
     * answered for one and the fallback for the other, or another model version): rank again.
     */
    async mergeItems(viewer: Viewer, state: FeedState, rows: readonly ItemRow[]): Promise<FeedState | undefined> {
      const fresh = rows.filter((r) => !state.rated.has(r.id));
      if (fresh.length === 0) return state;
      const scored = await o.scoring.scoreRows(viewer, state.feed.userId, state.history, fresh);
      if (scored.degraded !== state.feed.degraded || scored.modelVersion !== state.feed.modelVersion) return undefined;
      const replaced = new Set(fresh.map((r) => r.id));
      const merged = ranked([...state.feed.entries.filter((e) => !replaced.has(e.item.id)), ...scored.items]).slice(0, o.poolSize);
      return { ...state, feed: { ...state.feed, entries: merged } };
    },

    /** Items by internal id, for merging: those still there, in any order. */
    itemRows,
  };
}

export type FeedService = ReturnType<typeof createFeedService>;
