// The synthetic generator writes the preference-dataset format (CONTRACTS.md section 1)
// exactly as the trainer's reader expects it: checked by reading it back with that reader.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { splitWorldByUser, writeDataset, writeTruth } from '../../src/synth/dataset-writer.js';
import { generateTasteWorld } from '../../src/synth/taste-world.js';
import { REPOSITORY_ROOT } from '../../src/trainer/python.js';

function readBack(dir: string) {
  const script = [
    'import json, sys',
    'from trainer.data import read_dataset',
    'd = read_dataset(sys.argv[1])',
    'u = d.users["user-1"]',
    'print(json.dumps({"shape": list(d.vectors.shape), "first": [float(x) for x in d.vectors[0][:3]], "users": len(d.users),',
    '  "rows": sum(len(r) for r in d.users.values()), "groups": len(set(d.groups.values())), "prompt": d.prompts[0],',
    '  "user1": [[d.item_ids[r.item], r.label, r.ts, r.pair] for r in u[:2]]}))',
  ].join('\n');
  return JSON.parse(execFileSync(loadConfig().trainerPython, ['-c', script, dir], { cwd: REPOSITORY_ROOT, encoding: 'utf8' }));
}

describe('synthetic dataset files', () => {
  it('round-trip through the trainer reader: vectors, ids, labels, times, pairs, groups', async () => {
    const world = generateTasteWorld({ users: 12, groups: 3, items: 40, dim: 6, interactionsPerUser: 10, pairShare: 0.5 });
    const dir = mkdtempSync(join(tmpdir(), 'tg-synth-'));
    await writeDataset(dir, world);
    const read = readBack(dir);
    expect(read.shape).toEqual([40, 6]);
    read.first.forEach((v: number, i: number) => expect(v).toBeCloseTo(world.items[0].vector[i], 6));
    expect(read.users).toBe(12);
    expect(read.rows).toBe(120);
    expect(read.groups).toBe(3);
    expect(read.prompt).toBe(world.items[0].prompt);
    const user1 = world.interactions.filter((e) => e.user === 'user-1').slice(0, 2);
    expect(read.user1).toEqual(user1.map((e) => [e.item, e.label, e.ts, e.pair ?? '']));
  });

  it('splits by user into train and test over the same items', () => {
    const world = generateTasteWorld({ users: 20, items: 30, interactionsPerUser: 5 });
    const [train, test] = splitWorldByUser(world, 0.2);
    expect(test.users).toHaveLength(4);
    expect(train.users).toHaveLength(16);
    expect(train.items).toBe(test.items);
    const testUsers = new Set(test.users.map((u) => u.id));
    expect(train.interactions.some((e) => testUsers.has(e.user))).toBe(false);
    expect(test.interactions.every((e) => testUsers.has(e.user))).toBe(true);
  });

  it('puts every taste group on both sides at any share', () => {
    const world = generateTasteWorld({ users: 40, groups: 4, items: 30, interactionsPerUser: 5 });
    const groupsOf = (part: typeof world) => [...new Set(part.users.map((u) => u.group))].sort();
    for (const share of [0.5, 0.25, 0.2]) {
      const [train, test] = splitWorldByUser(world, share);
      expect(groupsOf(test), `share ${share}`).toEqual([0, 1, 2, 3]);
      expect(groupsOf(train), `share ${share}`).toEqual([0, 1, 2, 3]);
      expect(test.users.length / world.users.length, `share ${share}`).toBeCloseTo(share, 1);
    }
    // A stride coprime with the groups is taken over all users, as before: every fifth user.
    const [, fifth] = splitWorldByUser(world, 0.2);
    expect(fifth.users.map((u) => u.id)).toEqual(world.users.filter((_, i) => i % 5 === 4).map((u) => u.id));
  });

  it('holds out the share asked for when it is not 1/k, spread over every group', () => {
    // 1/share rounded to a stride once made 0.75 a stride of 1: every user in the second part.
    const world = generateTasteWorld({ users: 48, groups: 6, items: 30, interactionsPerUser: 5 });
    for (const [share, second] of [
      [0.75, 36],
      [0.3, 12],
      [0.625, 30],
    ]) {
      const [train, test] = splitWorldByUser(world, share);
      expect(test.users, `share ${share}`).toHaveLength(second);
      expect(train.users, `share ${share}`).toHaveLength(48 - second);
      for (let g = 0; g < 6; g += 1) {
        const inGroup = test.users.filter((u) => u.group === g).length;
        expect(Math.abs(inGroup - share * 8), `share ${share}, group ${g}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('writes the truth the ceiling bench reads: latent points, styles, tastes, groups, settings', async () => {
    const world = generateTasteWorld({ users: 12, groups: 3, items: 40, dim: 6, interactionsPerUser: 10, pairShare: 0.5, qualityWeight: 0.6 });
    const dir = mkdtempSync(join(tmpdir(), 'tg-truth-'));
    await writeTruth(dir, world);
    const script = [
      'import json, sys',
      'from trainer.bench_world_ceiling import read_truth',
      't = read_truth(sys.argv[1])',
      'print(json.dumps({"latent": t["latent"][7].tolist(), "style": int(t["style"][7]), "taste": t["taste"]["user-5"].tolist(),',
      '  "group": t["group"]["user-5"], "quality": t["quality"].tolist(), "q": t["q"], "noise": t["noise"], "items": len(t["latent"])}))',
    ].join('\n');
    const read = JSON.parse(execFileSync(loadConfig().trainerPython, ['-c', script, dir], { cwd: REPOSITORY_ROOT, encoding: 'utf8' }));
    const close = (got: number[], want: Float64Array) => got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    close(read.latent, world.truth.latent.get('item-7')!);
    close(read.taste, world.truth.tastes.get('user-5')!);
    close(read.quality, world.truth.quality);
    expect(read).toMatchObject({ style: world.items[7].style, group: world.users[5].group, q: 0.6, noise: world.truth.labelNoise, items: 40 });
  });
});
