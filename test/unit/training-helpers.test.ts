import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHeldOut } from '../../src/training/split.js';
import { describeSchedule } from '../../src/jobs/queues.js';
import { specificVersions, tenantModelName, isTenantModelName } from '../../src/inference/model-names.js';
import { tritonConfig } from '../../src/training/artifact-store.js';
import { declaredUserEmbeddingDim } from '../../src/training/promotion.js';
import { loadConfig } from '../../src/config.js';

describe('held-out users', () => {
  it('are chosen by a hash of the id: the same every time, about the share asked', () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
    const first = ids.filter((id) => isHeldOut(id, 20));
    expect(ids.filter((id) => isHeldOut(id, 20))).toEqual(first);
    expect(first.length / ids.length).toBeGreaterThan(0.18);
    expect(first.length / ids.length).toBeLessThan(0.22);
    // A larger share keeps every user the smaller one held out.
    expect(first.every((id) => isHeldOut(id, 30))).toBe(true);
  });

  it('depend on the id alone (sha256 of its UTF-8 bytes)', () => {
    // sha256("alice") starts 2bd806c9: 0x2bd806c9 % 100 = 1, so held out at 2% and not at 1%.
    expect(isHeldOut('alice', 2)).toBe(true);
    expect(isHeldOut('alice', 1)).toBe(false);
  });
});

describe('model store names', () => {
  it('one Triton model per tenant, and nothing else that could become a path', () => {
    const name = tenantModelName('3F2504E0-4F89-11D3-9A0C-0305E82C3301');
    expect(name).toBe('tenant-3f2504e0-4f89-11d3-9a0c-0305e82c3301');
    expect(isTenantModelName(name)).toBe(true);
    for (const bad of ['tenant-../../etc', 'preference', 'tenant-3f2504e0', `${name}/1`]) expect(isTenantModelName(bad)).toBe(false);
  });

  it('a config.pbtxt names the versions to serve, first the serving one; without it, every version folder, highest first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-names-'));
    for (const v of ['1', '2', '10', 'tmp']) mkdirSync(join(dir, v));
    expect(await specificVersions(dir)).toEqual(['10', '2', '1']);
    writeFileSync(join(dir, 'config.pbtxt'), tritonConfig('tenant-x', 16, 10, [2, 10]));
    expect(await specificVersions(dir)).toEqual(['2', '10']);
    expect(await specificVersions(join(dir, 'missing'))).toEqual([]);
  });

  it('declare the user embedding width the listed versions share, or any width (-1) where they differ or one is unknown', () => {
    expect(declaredUserEmbeddingDim([20])).toBe(20);
    expect(declaredUserEmbeddingDim([20, 20])).toBe(20);
    // A tenant's class count is chosen afresh each night: 10 classes then 12 (20 then 24 numbers).
    expect(declaredUserEmbeddingDim([24, 20])).toBe(-1);
    expect(declaredUserEmbeddingDim([24, undefined])).toBe(-1);
    expect(tritonConfig('tenant-x', 16, -1, [2, 1])).toContain('{ name: "user_embedding"  data_type: TYPE_FP32 dims: [ -1 ] }');
  });
});

describe('training settings', () => {
  it('describe a daily schedule in words, and any other as its cron', () => {
    expect(describeSchedule('0 3 * * *')).toBe('03:00 UTC');
    expect(describeSchedule('30 23 * * *')).toBe('23:30 UTC');
    expect(describeSchedule('0 */6 * * *')).toBe('cron "0 */6 * * *" (UTC)');
  });

  it('refuse a cron that is not five fields, naming the variable', () => {
    expect(() => loadConfig({ TRAINING_CRON: '0 3 * *' })).toThrow(
      'TRAINING_CRON: expected five cron fields such as "0 3 * * *" (minute hour day month weekday, UTC), got "0 3 * *"',
    );
    expect(loadConfig({}).training).toMatchObject({
      cron: '0 3 * * *',
      // A first model's schedule is the accuracy benches' (docs/preference-model.md, session 38):
      // 20 epochs of the tenant's natural episodes, and for a small tenant a taste-group network
      // of 9,600 episodes an epoch (session 42)...
      epochs: 20,
      minEpisodesPerEpoch: 0,
      groupEpisodesPerEpoch: 9600,
      // ... which since session 44 starts from the scoring network, and since session 54 trains
      // 16 epochs of them (docs/taste-groups.md).
      groupEpochs: 16,
      // Since session 55 the groups are EM's latent classes, and no taste-group network trains.
      groupsFrom: 'classes',
      fineTuneEpochs: 3,
      minUsers: 50,
      minHeldOutUsers: 20,
      heldOutPercent: 20,
      trainerArgs: [],
    });
    expect(loadConfig({ TRAINING_TRAINER_ARGS: ' --width 128  --tokens 16 ' }).training.trainerArgs).toEqual(['--width', '128', '--tokens', '16']);
  });
});
