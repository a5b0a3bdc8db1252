// Items with their vectors for the model, without carrying every vector from PostgreSQL: the
// rows are read without them (ItemRepository summaries, with the version of each row), and
// each vector comes from the tenant's in-memory index (tenant-indexes.ts) where the index
// holds that same version. The rest (items the index has not caught up with) are read whole.
// At dimension 512, 500 rows took 6.3 ms with their vectors and 1.5 ms without.
import type { ItemRepository, ItemRow, ItemSummary } from '../repositories/item.repository.js';
import type { VectorIndex } from '../ranking/vector-index.js';

/**
 * Below this dimension a score query reads its candidates whole: the rows without vectors cost
 * nearly as much to read, and the index's copies make up the rest. 500 candidates (median of
 * 300 reads, scratch measurement on the 2-core VM): dimension 32 3.0 ms whole against 2.8 + 0.5
 * through the index, 128 3.1 against 2.5 + 0.6, 256 3.8 against 2.6 + 0.7, 512 6.8 against
 * 2.8 + 1.0. It also keeps a tenant that never asks for feeds from building an index it would
 * not gain from.
 */
export const SCORE_VECTORS_FROM_INDEX_MIN_DIM = 256;

/** `summaries` as rows with vectors, position by position; undefined where a summary is. */
export async function withVectors(
  items: Pick<ItemRepository, 'findByIds'>,
  tenantId: string,
  summaries: readonly (ItemSummary | undefined)[],
  index: Pick<VectorIndex, 'vector'>,
): Promise<(ItemRow | undefined)[]> {
  // Filled, not sparse: callers map and flatMap over every position, and both skip holes.
  const rows: (ItemRow | undefined)[] = summaries.map(() => undefined);
  const behind: number[] = [];
  summaries.forEach((summary, at) => {
    if (!summary) return;
    const embedding = index.vector(summary.id, summary.version);
    if (!embedding) return void behind.push(at);
    // Field by field: a rest pattern and a spread took half a millisecond more for 500 rows.
    const { id, externalId, url, prompt, createdAt, updatedAt } = summary;
    rows[at] = { id, externalId, url, prompt, createdAt, updatedAt, embedding };
  });
  if (behind.length) {
    const read = await items.findByIds(
      tenantId,
      behind.map((at) => summaries[at]!.id),
    );
    // An item deleted between the two reads is undefined here, as it would be in one read.
    read.forEach((row, j) => (rows[behind[j]] = row));
  }
  return rows;
}
