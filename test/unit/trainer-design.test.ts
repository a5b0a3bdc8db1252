import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { designArgs, trainArgsWithDesign, warmStartArgs } from '../../src/training/trainer-design.js';
import { loadConfig } from '../../src/config.js';
import { readOnnxMetadata } from '../../src/inference/onnx-metadata.js';

const schedule = {
  epochs: 20,
  maxEpisodesPerEpoch: 30_000,
  minEpisodesPerEpoch: 0,
  groupEpisodesPerEpoch: 9_600,
  groupEpochs: 8,
  groupsFrom: 'network' as const,
};
const flag = (args: string[], name: string) => args[args.lastIndexOf(name) + 1];

describe("the nightly's trainer design", () => {
  it('is made from the schedule: its taste-group network trains no longer than the run', () => {
    const first = designArgs(schedule, 20);
    expect([flag(first, '--epochs'), flag(first, '--max-episodes'), flag(first, '--group-episodes'), flag(first, '--group-epochs')]).toEqual([
      '20',
      '30000',
      '9600',
      '8',
    ]);
    expect(flag(designArgs(schedule, 3), '--group-epochs')).toBe('3');
    for (const [name, value] of [
      ['--token-attention', 'cross'],
      ['--item-rates', 'crossfit'],
      ['--co-likes', 'auto'],
      ['--latent-classes', 'auto'],
      ['--choice-prior', 'auto'],
      ['--autocast', 'auto'],
    ])
      expect(flag(first, name)).toBe(value);
  });

  it('with TRAINING_GROUPS_FROM classes (the default) asks for latent classes and trains no taste-group network', () => {
    const args = designArgs({ ...schedule, groupsFrom: 'classes' }, 20);
    expect(flag(args, '--group-from')).toBe('classes');
    for (const name of ['--group-episodes', '--group-start', '--group-keep', '--group-epochs']) expect(args).not.toContain(name);
    expect(loadConfig({}).training.groupsFrom).toBe('classes');
    expect(() => loadConfig({ TRAINING_GROUPS_FROM: 'tokens' })).toThrow('TRAINING_GROUPS_FROM: expected one of classes, network, got "tokens"');
  });

  it('npm run train -- --design nightly puts the design first, and the flags given after it', () => {
    const args = trainArgsWithDesign(['--data', 'D', '--design', 'nightly', '--out', 'O', '--seed', '0'], schedule);
    expect(args).toEqual([...designArgs(schedule, 20), '--data', 'D', '--out', 'O', '--seed', '0']);
    expect(trainArgsWithDesign(['--design=nightly', '--data', 'D'], schedule)).toEqual([...designArgs(schedule, 20), '--data', 'D']);
  });

  it('an --epochs given sets the schedule, so the taste-group network is no longer than the run', () => {
    const args = trainArgsWithDesign(['--design', 'nightly', '--epochs', '2', '--data', 'D'], schedule);
    expect(args.slice(0, designArgs(schedule, 2).length)).toEqual(designArgs(schedule, 2));
    expect(flag(args, '--group-epochs')).toBe('2');
    expect(flag(trainArgsWithDesign(['--epochs=3', '--design', 'nightly'], schedule), '--group-epochs')).toBe('3');
    expect(() => trainArgsWithDesign(['--design', 'nightly', '--epochs', 'many'], schedule)).toThrow(/--epochs: expected a whole number/);
  });

  it('npm run train refuses another design with the error naming the flag, and exit code 1', () => {
    const done = spawnSync('node_modules/.bin/tsx', ['src/apps/train.ts', '--design', 'weekly', '--data', 'D'], { encoding: 'utf8' });
    expect(done.status).toBe(1);
    expect(done.stderr).toBe('train failed: --design: expected "nightly" (the nightly\'s first-model design), got "weekly"\n');
  }, 30_000);

  it('without --design the arguments pass as given; another design is refused, naming the flag', () => {
    expect(trainArgsWithDesign(['--data', 'D', '--epochs', '5'], schedule)).toEqual(['--data', 'D', '--epochs', '5']);
    expect(() => trainArgsWithDesign(['--design', 'weekly'], schedule)).toThrow(
      '--design: expected "nightly" (the nightly\'s first-model design), got "weekly"',
    );
    expect(() => trainArgsWithDesign(['--data', 'D', '--design'], schedule)).toThrow(/--design: .* got nothing/);
  });

  it("the defaults are the nightly's (config.ts)", () => {
    const training = loadConfig({}).training;
    expect(trainArgsWithDesign(['--design', 'nightly'], training)).toEqual(designArgs(training, training.epochs));
    expect(flag(designArgs(training, training.epochs), '--group-from')).toBe('classes');
  });
});

describe("a nightly run's warm start", () => {
  it('from scratch: no flags', () => {
    expect(warmStartArgs(undefined, 20, 20)).toEqual([]);
  });

  it("a tenant's own version: carries its cross-fit's verdict and continues its taste-group network", () => {
    expect(warmStartArgs({ checkpoint: 'own.pt', version: 3 }, 20, 3)).toEqual(['--init', 'own.pt', '--crossfit-epochs', '20', '--crossfit-carry']);
  });

  it("the base model: another world's verdict and taste groups, so neither is carried on", () => {
    expect(warmStartArgs({ checkpoint: 'base.pt', version: null }, 20, 20)).toEqual([
      '--init',
      'base.pt',
      '--crossfit-epochs',
      '20',
      '--init-group-network',
      'drop',
    ]);
  });
});

describe('the shipped default model (npm run model:default)', () => {
  it("was trained with the nightly's design, every part fitted and its latent classes as the user embedding", () => {
    const metadata = readOnnxMetadata(new Uint8Array(readFileSync('models/preference/1/model.onnx')));
    expect(metadata).toMatchObject({ token_attention: 'cross', autocast_setting: 'auto', user_embedding_from: 'latent classes' });
    // Each part the design asks for was fitted and weighed, whether or not it serves.
    for (const part of ['regression_weight', 'item_rates', 'co_likes', 'latent_classes', 'choice_prior']) expect(metadata).toHaveProperty(part);
    const metrics = JSON.parse(readFileSync('models/preference/1/metrics.json', 'utf8'));
    expect(metrics.item_rates.crossfit).toBeTruthy();
    expect(metrics.group_network).toMatchObject({ started_from: 'latent classes', classes: 10 });
  });
});
