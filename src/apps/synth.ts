// npm run synth -- --out DIR [--test-share 0.2] [--preset pairwise|pairwise-fresh|short-history] [--users 1000 --groups 8
//                   --items 3000 --dim 32 --styles 24 --per-user 80 --per-user-min 4 --pair-share 0.25
//                   --noise 0.08 --personal 0.25 --quality 0.3 --seed 1] [--truth]
// Writes a synthetic preference dataset (CONTRACTS.md section 1) whose users fall into taste groups;
// with --truth also OUT/truth/, what the labels were drawn from (for trainer.bench_world_ceiling).
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { splitWorldByUser, writeDataset, writeTruth } from '../synth/dataset-writer.js';
import { DEFAULT_WORLD, generateTasteWorld, WORLD_PRESETS, type TasteWorldOptions } from '../synth/taste-world.js';
import { messageOf } from '../errors.js';

// The options that take a number (freshImages comes only with its preset).
type NumberOption = { [K in keyof TasteWorldOptions]-?: TasteWorldOptions[K] extends number | undefined ? K : never }[keyof TasteWorldOptions];

const FLAGS: Record<string, NumberOption> = {
  users: 'users',
  groups: 'groups',
  items: 'items',
  dim: 'dim',
  styles: 'styles',
  'per-user': 'interactionsPerUser',
  'per-user-min': 'interactionsPerUserMin',
  'pair-share': 'pairShare',
  noise: 'labelNoise',
  personal: 'personalNoise',
  quality: 'qualityWeight',
  seed: 'seed',
};

async function main() {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      'test-share': { type: 'string' },
      preset: { type: 'string' },
      truth: { type: 'boolean' },
      ...Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])),
    },
    strict: true,
  });
  if (!values.out) throw new Error('usage: npm run synth -- --out DIR [--users N --groups K --items N --dim D --seed S ...]');
  const preset = values.preset === undefined ? {} : WORLD_PRESETS[values.preset];
  if (!preset) throw new Error(`--preset: expected one of ${Object.keys(WORLD_PRESETS).join(', ')}, got "${values.preset}"`);
  // A preset first; flags given change it.
  const options: Partial<TasteWorldOptions> = { ...preset };
  for (const [flag, key] of Object.entries(FLAGS)) {
    const raw = (values as Record<string, string | undefined>)[flag];
    if (raw === undefined) continue;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${flag}: expected a non-negative number, got "${raw}"`);
    options[key] = value;
  }
  const o = { ...DEFAULT_WORLD, ...options };
  if (o.interactionsPerUserMin !== undefined && o.interactionsPerUserMin > o.interactionsPerUser) {
    throw new Error(`--per-user-min: expected at most --per-user (${o.interactionsPerUser}), got ${o.interactionsPerUserMin}`);
  }
  if (o.freshImages && (values as Record<string, string | undefined>).items !== undefined) {
    throw new Error('--items: not used with fresh images (--preset pairwise-fresh makes each image for the one choice it is in)');
  }
  const world = generateTasteWorld(options);
  const testShare = values['test-share'] === undefined ? 0 : Number(values['test-share']);
  if (!(testShare >= 0 && testShare < 1)) throw new Error(`--test-share: expected a number from 0 to below 1, got "${values['test-share']}"`);
  let split = '';
  if (testShare > 0) {
    // Two datasets over the same items, with disjoint users: OUT/train and OUT/test (EVAL-1).
    const [train, test] = splitWorldByUser(world, testShare);
    await writeDataset(join(values.out, 'train'), train);
    await writeDataset(join(values.out, 'test'), test);
    // The split is a stride (1 in round(1 / share)): say what it gave, not what was asked.
    split = ` (train/ and test/, ${test.users.length} of ${world.users.length} users in test/)`;
  } else {
    await writeDataset(values.out, world);
  }
  // A folder of its own, which no reader of the dataset format opens.
  if (values.truth) await writeTruth(join(values.out, 'truth'), world);
  process.stdout.write(
    `wrote ${values.out}${split}: ${world.items.length} items (dim ${o.dim}, ${o.styles} styles), ` +
      `${world.users.length} users in ${o.groups} groups, ${world.interactions.length} interactions\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`synth failed: ${messageOf(error)}\n`);
  process.exit(1);
});
