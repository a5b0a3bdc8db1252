import { notFound, throwIfProblems, type FieldProblem } from '../errors.js';
import type { ItemDeletion, ItemRepository, ItemRow } from '../repositories/item.repository.js';
import { checkFirst, toPage, type Page } from './pagination.js';
import { cursorsFor, type IdCodec } from './opaque-ids.js';
import type { TenantService } from './tenant.service.js';
import { checkBatchSize, checkEmbedding, checkExternalId, checkPrompt, checkUnique, checkUrl, show } from './validation.js';
import type { Viewer } from './viewer.js';
import type { EventBus } from '../events/event-bus.js';

export interface ItemInput {
  id: string;
  url?: string | null;
  prompt?: string | null;
  embedding: readonly number[];
}

export type DeletedItems = Omit<ItemDeletion & { ok: true }, 'ok'> & { externalIds: string[] };

export function createItemService(items: ItemRepository, tenants: TenantService, bus: EventBus, ids: () => Promise<IdCodec>) {
  return {
    /** Creates or replaces up to 1,000 items; every item is checked before anything is written. */
    async upsert(viewer: Viewer, input: readonly ItemInput[]): Promise<ItemRow[]> {
      const dim = await tenants.embeddingDim(viewer);
      const problems: FieldProblem[] = [...checkBatchSize('items', input.length)];
      if (problems.length === 0) {
        input.forEach((item, i) => {
          problems.push(
            ...checkExternalId(`items[${i}].id`, item.id, i),
            ...checkUrl(`items[${i}].url`, item.url, i),
            ...checkPrompt(`items[${i}].prompt`, item.prompt, i),
            ...checkEmbedding(`items[${i}].embedding`, item.embedding, dim, i),
          );
        });
        problems.push(
          ...checkUnique(
            input,
            (item) => item.id,
            (i) => `items[${i}].id`,
          ),
        );
      }
      throwIfProblems('upsertItems', problems);
      const stored = await items.upsert(
        viewer.tenantId,
        input.map((item) => ({ externalId: item.id, url: item.url ?? null, prompt: item.prompt ?? null, embedding: item.embedding })),
      );
      await bus.publish({ type: 'items-upserted', tenantId: viewer.tenantId, itemIds: stored.map((item) => item.id) });
      return stored;
    },

    /**
     * Deletes up to 1,000 items with every like, dislike and undo of them, all-or-nothing:
     * an id the tenant does not have is NOT_FOUND and nothing is deleted. Every API instance
     * drops them from its vector index and ranks the tenant's live feeds again.
     */
    async delete(viewer: Viewer, externalIds: readonly string[]): Promise<DeletedItems> {
      const problems: FieldProblem[] = [...checkBatchSize('ids', externalIds.length)];
      if (problems.length === 0) {
        externalIds.forEach((id, i) => problems.push(...checkExternalId(`ids[${i}]`, id, i)));
        problems.push(
          ...checkUnique(
            externalIds,
            (id) => id,
            (i) => `ids[${i}]`,
          ),
        );
      }
      throwIfProblems('deleteItems', problems);
      const outcome = await items.delete(viewer.tenantId, externalIds);
      if (!outcome.ok) {
        const missing = new Set(outcome.missing);
        const unknown = externalIds.flatMap((id, index) => (missing.has(id) ? [{ index, field: `ids[${index}]`, message: `unknown item "${id}"` }] : []));
        throwIfProblems('deleteItems', unknown, 'NOT_FOUND');
      }
      if (!outcome.ok) throw new Error('unreachable: deleteItems reported no missing id');
      const { ok: _, ...deleted } = outcome;
      await bus.publish({ type: 'items-deleted', tenantId: viewer.tenantId, itemIds: deleted.itemIds });
      return { ...deleted, externalIds: [...externalIds] };
    },

    async get(viewer: Viewer, externalId: string): Promise<ItemRow> {
      throwIfProblems('item', checkExternalId('externalId', externalId), 'BAD_USER_INPUT', { write: false });
      const item = await items.findByExternalId(viewer.tenantId, externalId);
      if (!item) throw notFound(`item ${show(externalId)}`);
      return item;
    },

    async list(viewer: Viewer, first: number, after: string | null | undefined): Promise<Page<ItemRow>> {
      checkFirst('first', first);
      const cursors = cursorsFor(await ids(), viewer.tenantId, 'item-cursor');
      const rows = await items.list(viewer.tenantId, first + 1, cursors.decode('after', after));
      return toPage(rows, first, cursors, after);
    },

    /** For DataLoader: items by internal id, one entry per id, in order. */
    byIds: (viewer: Viewer, ids: readonly number[]) => items.findByIds(viewer.tenantId, ids),
  };
}

export type ItemService = ReturnType<typeof createItemService>;
