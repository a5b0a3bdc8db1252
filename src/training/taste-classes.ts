// What a training found of its tenant's taste groups, read from the trainer's metrics.json
// (trainer/train.py's `group_network` record; trainer/class_count.py chooses the count). The
// registry keeps it with the version, so an admin's snapshot can say when the users showed no
// groups at all: k-means always draws k groups, and silhouette alone does not tell a weak
// grouping from no grouping (docs/taste-groups.md, "Whether the users form groups at all").
import type { TasteClasses } from '../repositories/model-registry.repository.js';

/** trainer/group_network.py's FROM_CLASSES: the taste-group network made of latent classes. */
const FROM_CLASSES = 'latent classes';
/** trainer/class_count.py's record of a count set by hand. */
const ASKED = '--group-classes';

const isCount = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 1;

/**
 * The record in a parsed metrics.json; null for models without one (trained before it was
 * recorded, or grouping by a network's tokens). Throws on a record it cannot read, naming
 * the field, so a changed trainer is noticed rather than shown as "nothing found".
 */
export function tasteClassesOf(metrics: unknown): TasteClasses | null {
  const record = (metrics as { group_network?: unknown } | null)?.group_network as Record<string, unknown> | null | undefined;
  if (!record || record.started_from !== FROM_CLASSES || !('chosen_by' in record)) return null;
  const { classes, chosen, chosen_by: chosenBy, users } = record;
  if (!isCount(classes)) throw new Error(`metrics.json group_network.classes: expected a count, got ${JSON.stringify(classes)}`);
  if (chosen !== null && !isCount(chosen)) throw new Error(`metrics.json group_network.chosen: expected a count or null, got ${JSON.stringify(chosen)}`);
  if (typeof chosenBy !== 'string') throw new Error(`metrics.json group_network.chosen_by: expected text, got ${JSON.stringify(chosenBy)}`);
  if (!Number.isInteger(users)) throw new Error(`metrics.json group_network.users: expected a count, got ${JSON.stringify(users)}`);
  return { found: chosenBy === ASKED ? null : chosen, served: classes, chosenBy, users: users as number };
}
