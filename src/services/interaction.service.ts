import { throwIfProblems, type ErrorCode, type FieldProblem } from '../errors.js';
import type {
  ClearResult,
  EventKind,
  InteractionKind,
  InteractionRepository,
  InteractionRow,
  MissingRef,
  RecordOutcome,
  ReusedEventId,
} from '../repositories/interaction.repository.js';
import { checkBatchSize, checkExternalId, checkOptionalId, checkUnique } from './validation.js';
import type { Viewer } from './viewer.js';
import type { EventBus } from '../events/event-bus.js';

export interface InteractionInput {
  userId: string;
  itemId: string;
  /** Any kind the schema has (CLEAR too); record() refuses all but LIKE and DISLIKE, naming the field. */
  kind: EventKind;
  pairId?: string | null;
  eventId?: string | null;
}

const KINDS: readonly EventKind[] = ['LIKE', 'DISLIKE'] satisfies InteractionKind[];

function checkEvent(event: InteractionInput, i: number): FieldProblem[] {
  return [
    ...checkExternalId(`events[${i}].userId`, event.userId, i),
    ...checkExternalId(`events[${i}].itemId`, event.itemId, i),
    ...(KINDS.includes(event.kind)
      ? []
      : [
          {
            index: i,
            field: `events[${i}].kind`,
            message: `expected LIKE or DISLIKE, got "${event.kind}"${event.kind === 'CLEAR' ? ' (an undo is clearInteractions)' : ''}`,
          },
        ]),
    ...checkOptionalId(`events[${i}].pairId`, event.pairId, i),
    ...checkOptionalId(`events[${i}].eventId`, event.eventId, i),
  ];
}

/** Users and items the tenant does not have: NOT_FOUND, whether they never existed or are another tenant's. */
function missingProblems(refs: readonly { userId: string; itemId: string }[], missing: readonly MissingRef[]): FieldProblem[] {
  return missing.map(({ index, field }) => ({
    index,
    field: `events[${index}].${field}`,
    message: `unknown ${field === 'userId' ? 'user' : 'item'} "${refs[index][field]}"`,
  }));
}

function reusedProblems(events: readonly InteractionInput[], reused: readonly ReusedEventId[]): FieldProblem[] {
  return reused.map(({ index, stored }) => ({
    index,
    field: `events[${index}].eventId`,
    message: `"${events[index].eventId}" was already recorded for a different event (user "${stored.userExternalId}", item "${stored.itemExternalId}", ${stored.kind})`,
  }));
}

const DELETED_MEANWHILE: FieldProblem = {
  field: 'events',
  message: 'a user or item of this call was deleted (deleteUser or deleteItems) while the call was being stored; nothing was stored: send it again',
};

/** A refusal of recordInteractions, which the repository returns as data, in the client's words. */
function recordRefusal(events: readonly InteractionInput[], refusal: Exclude<RecordOutcome, { ok: true }>): { problems: FieldProblem[]; code: ErrorCode } {
  switch (refusal.reason) {
    case 'missing':
      return { problems: missingProblems(events, refusal.missing), code: 'NOT_FOUND' };
    case 'event-id-reused':
      return { problems: reusedProblems(events, refusal.reused), code: 'CONFLICT' };
    case 'deleted-meanwhile':
      return { problems: [DELETED_MEANWHILE], code: 'CONFLICT' };
  }
}

export function createInteractionService(interactions: InteractionRepository, bus: EventBus) {
  return {
    /**
     * Records up to 1,000 likes/dislikes all-or-nothing. Users are created on first sight;
     * an event whose eventId was stored before is not stored again, and the stored row is
     * returned, so a retried call returns what the first one did.
     */
    async record(viewer: Viewer, events: readonly InteractionInput[]): Promise<InteractionRow[]> {
      const problems = checkBatchSize('events', events.length);
      if (problems.length === 0) {
        events.forEach((event, i) => problems.push(...checkEvent(event, i)));
        problems.push(
          ...checkUnique(
            events,
            (e) => e.eventId,
            (i) => `events[${i}].eventId`,
          ),
        );
      }
      throwIfProblems('recordInteractions', problems);
      const outcome = await interactions.record(
        viewer.tenantId,
        // Every kind was checked above to be LIKE or DISLIKE.
        events.map((e) => ({
          userExternalId: e.userId,
          itemExternalId: e.itemId,
          kind: e.kind as InteractionKind,
          pairId: e.pairId ?? null,
          eventId: e.eventId ?? null,
        })),
      );
      if (!outcome.ok) {
        const { problems, code } = recordRefusal(events, outcome);
        throwIfProblems('recordInteractions', problems, code);
        return [];
      }
      // After the commit: feeds re-rank for these users, on every instance.
      await bus.publish({ type: 'interactions-recorded', tenantId: viewer.tenantId, userIds: [...new Set(events.map((e) => e.userId))] });
      return outcome.interactions;
    },

    /**
     * Undoes up to 1,000 pairs' current like or dislike, all-or-nothing: a pair with no state
     * is not an error (nothing to undo; a retry finds nothing left), an unknown user or item
     * is NOT_FOUND and nothing is undone. Each undo is logged as a CLEAR event.
     */
    async clear(viewer: Viewer, pairs: readonly ClearInput[]): Promise<Cleared[]> {
      const problems = checkBatchSize('events', pairs.length);
      if (problems.length === 0) {
        pairs.forEach((p, i) => problems.push(...checkExternalId(`events[${i}].userId`, p.userId, i), ...checkExternalId(`events[${i}].itemId`, p.itemId, i)));
      }
      throwIfProblems('clearInteractions', problems);
      const outcome = await interactions.clear(
        viewer.tenantId,
        pairs.map((p) => ({ userExternalId: p.userId, itemExternalId: p.itemId })),
      );
      if (!outcome.ok) throwIfProblems('clearInteractions', missingProblems(pairs, outcome.missing), 'NOT_FOUND');
      if (!outcome.ok) return [];
      const changed = [...new Set(pairs.filter((_, i) => outcome.results[i].previous !== null).map((p) => p.userId))];
      if (changed.length > 0) await bus.publish({ type: 'interactions-recorded', tenantId: viewer.tenantId, userIds: changed });
      return outcome.results.map((r, i) => ({ ...r, userExternalId: pairs[i].userId, itemExternalId: pairs[i].itemId }));
    },
  };
}

export interface ClearInput {
  userId: string;
  itemId: string;
}

/** What one undo did, by the tenant's ids. */
export interface Cleared extends ClearResult {
  userExternalId: string;
  itemExternalId: string;
}

export type InteractionService = ReturnType<typeof createInteractionService>;
