// Scores candidate items for users: their latest likes and dislikes from PostgreSQL, the model
// that serves the tenant (its own promoted version, else the shipped base model) through the
// predictor (a worker, or this process), and the history centroid when no model can answer,
// flagged as degraded so the app can tell. The candidates' vectors come from the tenant's
// in-memory index where it holds them (item-vectors.ts), not from PostgreSQL every time.
import { throwIfProblems, type FieldProblem } from '../errors.js';
import { ModelUnavailableError } from '../inference/scorer.js';
import type { ModelChoice, Predictor } from '../inference/predictor.js';
import { describeScoringFailure } from '../inference/scoring-failure.js';
import type { Logger } from '../logger.js';
import type { InteractionRepository } from '../repositories/interaction.repository.js';
import type { ItemRepository, ItemRow } from '../repositories/item.repository.js';
import type { UserRepository, UserRow } from '../repositories/user.repository.js';
import { centroidScores } from '../ranking/centroid.js';
import { SCORE_VECTORS_FROM_INDEX_MIN_DIM, withVectors } from './item-vectors.js';
import type { TenantIndexes } from './tenant-indexes.js';
import type { VectorIndex } from '../ranking/vector-index.js';
import { checkExternalId } from './validation.js';
import type { Viewer } from './viewer.js';
import type { ServingModels } from './serving-model.service.js';

export const MAX_CANDIDATES = 500;

export interface ScoreKey {
  userId: string;
  itemIds: readonly string[];
  /** The field asked (`score` unless told), which errors name. */
  field?: 'score' | 'rank';
}

export interface ScoredItems {
  userId: string;
  items: { item: ItemRow; score: number }[];
  /** True when the scores come from the fallback, not the model. */
  degraded: boolean;
  degradedReason: string | null;
  modelVersion: string | null;
}

export interface ScoringOptions {
  users: UserRepository;
  interactions: InteractionRepository;
  items: ItemRepository;
  /**
   * Where the candidates' vectors are kept in memory: the tenants' indexes (looked up by the
   * tenant's dimension), for tenants of `minDim` (SCORE_VECTORS_FROM_INDEX_MIN_DIM unless told)
   * and more. Omitted: every candidate is read whole from PostgreSQL.
   */
  vectors?: { indexes: Pick<TenantIndexes, 'indexFor'>; embeddingDim: (viewer: Viewer) => Promise<number>; minDim?: number };
  predictor: Pick<Predictor, 'predict'>;
  servingModels: Pick<ServingModels, 'resolve'>;
  historyPerKind: number;
  timeoutMs: number;
  log: Logger;
  onScored?: (outcome: 'model' | 'fallback', users: number) => void;
}

/** A user's latest likes and dislikes, as the model reads them. */
export type History = { vector: Float32Array; like: boolean }[];

interface Prepared {
  key: ScoreKey;
  history: History;
  candidates: ItemRow[];
}

export function createScoringService(o: ScoringOptions) {
  async function prepare(viewer: Viewer, key: ScoreKey): Promise<Prepared> {
    const problems: FieldProblem[] = [...checkExternalId('userId', key.userId)];
    if (key.itemIds.length < 1 || key.itemIds.length > MAX_CANDIDATES) {
      problems.push({ field: 'itemIds', message: `expected 1 to ${MAX_CANDIDATES} item ids, got ${key.itemIds.length}` });
    }
    key.itemIds.forEach((id, i) => problems.push(...checkExternalId(`itemIds[${i}]`, id, i)));
    // A ranking with the same item twice has no meaning; say which, rather than rank both.
    const firstAt = new Map<string, number>();
    key.itemIds.forEach((id, i) => {
      const first = firstAt.get(id);
      if (first === undefined) firstAt.set(id, i);
      else problems.push({ index: i, field: `itemIds[${i}]`, message: `"${id}" is already itemIds[${first}]` });
    });
    const field = key.field ?? 'score';
    throwIfProblems(field, problems, 'BAD_USER_INPUT', { write: false });
    const candidates = await candidateRows(viewer, key.itemIds);
    const unknown = candidates.flatMap((c, i) => (c ? [] : [{ index: i, field: `itemIds[${i}]`, message: `unknown item "${key.itemIds[i]}"` }]));
    throwIfProblems(field, unknown, 'NOT_FOUND', { write: false });
    return { key, history: await historyOf(viewer, key.userId), candidates: candidates as ItemRow[] };
  }

  /**
   * The items by external id, in the order asked (undefined where unknown), their vectors from
   * the tenant's index where it is built and holds them: at dimension 512 a score of 500
   * candidates read 1 MB of vectors from PostgreSQL.
   */
  async function candidateRows(viewer: Viewer, itemIds: readonly string[]): Promise<(ItemRow | undefined)[]> {
    // A refresh of the index that failed is reported by the indexes (onRefreshFailed) and tried
    // again on their next use; this score reads its candidates whole rather than fail with it.
    const index = await indexOfVectors(viewer).catch(() => undefined);
    if (!index) return o.items.findByExternalIds(viewer.tenantId, itemIds);
    return withVectors(o.items, viewer.tenantId, await o.items.summariesByExternalIds(viewer.tenantId, itemIds), index);
  }

  /** The tenant's index where its vectors are worth taking from it, once built. */
  async function indexOfVectors(viewer: Viewer): Promise<VectorIndex | undefined> {
    if (!o.vectors) return undefined;
    const dim = await o.vectors.embeddingDim(viewer);
    if (dim < (o.vectors.minDim ?? SCORE_VECTORS_FROM_INDEX_MIN_DIM)) return undefined;
    return o.vectors.indexes.indexFor(viewer.tenantId, dim);
  }

  /** The user's latest likes and dislikes as vectors; a user the tenant has not sent yet has none (scored cold). */
  async function historyOf(viewer: Viewer, userId: string): Promise<History> {
    return historyOfUser(viewer, await o.users.findByExternalId(viewer.tenantId, userId));
  }

  async function historyOfUser(viewer: Viewer, user: UserRow | undefined): Promise<History> {
    const rows = user ? await o.interactions.latestByKind(viewer.tenantId, user.id, o.historyPerKind) : [];
    const vectors = rows.length
      ? await o.items.findByIds(
          viewer.tenantId,
          rows.map((r) => r.itemId),
        )
      : [];
    return rows.flatMap((r, i) => (vectors[i] ? [{ vector: vectors[i].embedding, like: r.kind === 'LIKE' }] : []));
  }

  function fallback(prepared: Prepared[], reason: string): ScoredItems[] {
    o.onScored?.('fallback', prepared.length);
    return prepared.map((p) => {
      const scores = centroidScores(
        p.history,
        p.candidates.map((c) => c.embedding),
      );
      return {
        userId: p.key.userId,
        items: p.candidates.map((item, i) => ({ item, score: scores[i] })),
        degraded: true,
        degradedReason: reason,
        modelVersion: null,
      };
    });
  }

  /** Scores with one model; a tenant's version that cannot load gives way to the one before it. */
  async function predict(viewer: Viewer, choice: ModelChoice, previous: number | null, dim: number, prepared: Prepared[]) {
    const users = prepared.map((p) => ({ history: p.history, candidates: p.candidates.map((c) => c.embedding) }));
    const deadline = Date.now() + o.timeoutMs;
    try {
      return await o.predictor.predict(choice, dim, users, deadline);
    } catch (error) {
      if (!(error instanceof ModelUnavailableError) || choice.kind !== 'tenant' || previous === null) throw error;
      o.log.error(
        { err: error, tenantId: viewer.tenantId, version: choice.version, previous },
        'the promoted model version cannot be loaded; the version before it answers',
      );
      return o.predictor.predict({ ...choice, version: previous }, dim, users, deadline);
    }
  }

  async function scorePrepared(viewer: Viewer, prepared: Prepared[]): Promise<ScoredItems[]> {
    const dim = prepared[0].candidates[0].embedding.length;
    let serving;
    try {
      serving = await o.servingModels.resolve(viewer.tenantId, dim);
    } catch (error) {
      o.log.warn({ err: error, tenantId: viewer.tenantId }, 'the serving model could not be looked up; scoring fell back to the history centroid');
      return fallback(prepared, 'the model registry could not be read');
    }
    if (serving.kind === 'none') return fallback(prepared, serving.reason);
    const choice: ModelChoice = serving.kind === 'tenant' ? { kind: 'tenant', tenantId: viewer.tenantId, version: serving.version } : { kind: 'base' };
    try {
      const { scores, version } = await predict(viewer, choice, serving.kind === 'tenant' ? serving.previous : null, dim, prepared);
      o.onScored?.('model', prepared.length);
      // A tenant's own versions are the registry's numbers; the shipped model's say so.
      const modelVersion = choice.kind === 'tenant' ? version : `base-${version}`;
      return prepared.map((p, row) => ({
        userId: p.key.userId,
        items: p.candidates.map((item, i) => ({ item, score: scores[row][i] })),
        degraded: false,
        degradedReason: null,
        modelVersion,
      }));
    } catch (error) {
      const reason =
        error instanceof ModelUnavailableError
          ? `model version ${choice.kind === 'tenant' ? choice.version : 'base'} cannot be loaded`
          : describeScoringFailure(error);
      o.log.warn({ err: error, tenantId: viewer.tenantId, reason }, 'scoring fell back to the history centroid');
      return fallback(prepared, reason);
    }
  }

  return {
    /**
     * Scores several (user, candidates) keys with one model call; one result or Error per key,
     * in key order (DataLoader's contract), so one bad key fails only itself.
     */
    async scoreMany(viewer: Viewer, keys: readonly ScoreKey[]): Promise<(ScoredItems | Error)[]> {
      const settled = await Promise.allSettled(keys.map((key) => prepare(viewer, key)));
      const prepared = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      const scored = prepared.length ? await scorePrepared(viewer, prepared) : [];
      let next = 0;
      return settled.map((s) => (s.status === 'fulfilled' ? scored[next++] : (s.reason as Error)));
    },

    /** The history the model reads for a user already looked up (undefined: a new user, scored cold). */
    history: historyOfUser,

    /** Scores items already loaded (the feed's candidate pool) for one user whose history is loaded too. */
    async scoreRows(viewer: Viewer, userId: string, history: History, candidates: ItemRow[]): Promise<ScoredItems> {
      const key = { userId, itemIds: candidates.map((c) => c.externalId) };
      return (await scorePrepared(viewer, [{ key, history, candidates }]))[0];
    },
  };
}

export type ScoringService = ReturnType<typeof createScoringService>;

/** Highest score first; ties keep the order the items were asked in (stable). */
export function ranked(result: ScoredItems): ScoredItems {
  return { ...result, items: [...result.items].sort((a, b) => b.score - a.score) };
}
