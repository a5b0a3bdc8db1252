// The trainer flags of the best design measured (docs/preference-model.md, issue 14), in one
// place: the nightly trains every tenant's model with them (services/training-run.service.ts),
// and `npm run model:default` trains the shipped default model with them (apps/train.ts
// --design nightly), so the model a tenant starts from is the design its own nights train.
import type { TrainingConfig } from '../config.js';

/** The schedule settings the design's flags are made from (TRAINING_*). */
export type DesignSchedule = Pick<TrainingConfig, 'maxEpisodesPerEpoch' | 'minEpisodesPerEpoch' | 'groupEpisodesPerEpoch' | 'groupEpochs' | 'groupsFrom'>;

/**
 * The design's trainer flags for a run of `epochs` epochs: its schedule, then its parts. A run's
 * own flags (its data, a warm start, TRAINING_TRAINER_ARGS) go after these, and the trainer's
 * argparse keeps the last of a repeated flag, so they override.
 */
export function designArgs(s: DesignSchedule, epochs: number): string[] {
  return [
    '--epochs',
    String(epochs),
    '--max-episodes',
    String(s.maxEpisodesPerEpoch),
    '--min-episodes',
    String(s.minEpisodesPerEpoch),
    ...groupArgs(s, epochs),
    // The user's sequence attends to the preference tokens as keys and values, as in the paper,
    // and the network is averaged with each user's own regression, weighted on validation users
    // (trainer/ensemble.py). The like rates of items the tenant's users rated are added, weighted
    // by what they say beyond the items' vectors, each user with a bias of their own
    // (trainer/item_rates.py; nothing is added where no item has a crowd), unless a network
    // trained on half the training users, scoring the other half, rejects that weight by 2 SE
    // (trainer/rate_crossfit.py: on a tenant with thousands of users it finds the network already
    // knows what the rate says). Then each candidate's co-likes with the history (what the users
    // who rated both said, by item id: trainer/co_likes.py), then latent classes of users fitted
    // by EM, weighed by the history (trainer/served_latent_classes.py), and where the tenant's
    // users chose between two images, the global pairwise preference judged against look-alikes
    // (trainer/choice_prior.py); the last three weighted with the model on validation users and
    // served only where they show it helps. A warm start keeps its checkpoint's token attention.
    '--token-attention',
    'cross',
    '--ensemble',
    'auto',
    '--item-rates',
    'crossfit',
    '--crossfit-networks',
    '1',
    '--co-likes',
    'auto',
    '--latent-classes',
    'auto',
    '--choice-prior',
    'auto',
    // The networks' forward passes in bfloat16 where the CPU has native bf16 products: the
    // same accuracy in 0.6-0.8x the training loop's time (trainer/precision.py).
    '--autocast',
    'auto',
  ];
}

/**
 * Where the user embedding comes from (TRAINING_GROUPS_FROM). Classes: EM's latent classes of the
 * run's training users, fitted afresh by every run, a fine-tune's too (docs/taste-groups.md,
 * session 55). Network: a small tenant's taste-group network builds on the scoring network's
 * episodes and keeps the epoch its tokens have trained longest, since validation pairwise, which
 * the scoring network serves, says nothing of its groups (session 44); a fine-tune's continues
 * the checkpoint's own (trainer/group_network.py).
 */
function groupArgs(s: DesignSchedule, epochs: number): string[] {
  if (s.groupsFrom === 'classes') return ['--group-from', 'classes'];
  return [
    '--group-episodes',
    String(s.groupEpisodesPerEpoch),
    '--group-start',
    'scoring',
    '--group-keep',
    'last',
    '--group-epochs',
    String(Math.min(s.groupEpochs, epochs)),
  ];
}

/**
 * The trainer's arguments for `npm run train -- [--design nightly] ...`: with `--design nightly`,
 * the nightly's first-model flags (designArgs at TRAINING_EPOCHS, or at the `--epochs` given)
 * come first and the rest as given after them; without it, the arguments as given. Throws an
 * error naming `--design` for any other value, or for none.
 */
export function trainArgsWithDesign(argv: readonly string[], s: DesignSchedule & Pick<TrainingConfig, 'epochs'>): string[] {
  const at = argv.findIndex((a) => a === '--design' || a.startsWith('--design='));
  if (at < 0) return [...argv];
  const inline = argv[at].startsWith('--design=');
  const value = inline ? argv[at].slice('--design='.length) : argv[at + 1];
  if (value !== 'nightly')
    throw new Error(`--design: expected "nightly" (the nightly's first-model design), got ${value === undefined ? 'nothing' : `"${value}"`}`);
  const rest = [...argv.slice(0, at), ...argv.slice(at + (inline ? 1 : 2))];
  return [...designArgs(s, epochsGiven(rest) ?? s.epochs), ...rest];
}

/** The last `--epochs N` (or `--epochs=N`) of a trainer's arguments, as argparse reads it; undefined if none. */
function epochsGiven(args: readonly string[]): number | undefined {
  let at = args.length - 1;
  while (at >= 0 && args[at] !== '--epochs' && !args[at].startsWith('--epochs=')) at--;
  if (at < 0) return undefined;
  const text = args[at].startsWith('--epochs=') ? args[at].slice('--epochs='.length) : args[at + 1];
  const epochs = Number(text);
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new Error(`--epochs: expected a whole number of at least 1, got "${text}"`);
  return epochs;
}

/** What a nightly run starts from: the checkpoint that serves the tenant, and whose it is. */
export interface WarmStart {
  checkpoint: string;
  /** The tenant's own version, or null for the shipped base model, which another world trained. */
  version: number | null;
}

/**
 * The flags of a nightly run's warm start (none from scratch). Its fold network, which weighs the
 * item rates, cannot start warm (the checkpoint has seen every user), so it trains a first
 * model's epochs from scratch. A fine-tune of the tenant's own model carries that model's verdict
 * on the rates' weight instead of training a fold network, the largest part of its time
 * (--crossfit-carry), until its training users or their likes and dislikes have grown by half or
 * shrunk by a third since the verdict, and continues its taste-group network (where it trains
 * one: TRAINING_GROUPS_FROM network; latent classes are fitted afresh by every run). A first
 * model from the base model has neither of its own: the base model's verdict weighed another
 * tenant's items and its taste-group network grouped another world's users, so the fold network
 * trains afresh and a first taste-group network starts from this run's scoring network
 * (--init-group-network drop), as a tenant's first model from scratch does.
 */
export function warmStartArgs(warm: WarmStart | undefined, firstModelEpochs: number, epochs: number): string[] {
  if (!warm) return [];
  const own = warm.version !== null;
  return [
    '--init',
    warm.checkpoint,
    '--crossfit-epochs',
    String(Math.max(firstModelEpochs, epochs)),
    ...(own ? ['--crossfit-carry'] : ['--init-group-network', 'drop']),
  ];
}
