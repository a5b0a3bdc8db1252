// Per-request DataLoaders: the items and users of a page of interactions load in one query.
import DataLoader from 'dataloader';
import type { InteractionRow, ItemRow, UserRow } from '../services/records.js';
import type { ScoreKey, ScoredItems } from '../services/scoring.service.js';
import type { Services } from '../services/services.js';
import type { Viewer } from '../services/viewer.js';

export interface Loaders {
  itemById: DataLoader<number, ItemRow>;
  userById: DataLoader<number, UserRow>;
  /** Whether each interaction of a page is its pair's current state: one query for the page. */
  isCurrent: DataLoader<InteractionRow, boolean>;
  /** Every score/rank field of one request goes to the model in one batch. */
  scores: DataLoader<ScoreKey, ScoredItems>;
}

// A batch function returns one value or Error per key, in key order.
const orMissing =
  <T>(what: string, ids: readonly number[]) =>
  (rows: (T | undefined)[]) =>
    rows.map((row, i) => row ?? new Error(`${what} ${ids[i]} not found`));

export function createLoaders(services: Services, viewer: Viewer): Loaders {
  return {
    itemById: new DataLoader((ids) => services.items.byIds(viewer, ids).then(orMissing('item', ids))),
    userById: new DataLoader((ids) => services.users.byIds(viewer, ids).then(orMissing('user', ids))),
    isCurrent: new DataLoader((rows) => services.users.current(viewer, rows), { cacheKeyFn: (row) => row.id }),
    scores: new DataLoader((keys) => services.scoring.scoreMany(viewer, keys), {
      // The field too: an error names the field asked. The model still scores both in one batch.
      cacheKeyFn: (key) => JSON.stringify([key.userId, key.itemIds, key.field]),
    }),
  };
}
