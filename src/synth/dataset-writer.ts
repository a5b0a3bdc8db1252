// Writes a taste world in the preference-dataset format (CONTRACTS.md section 1):
// items.npy, items.csv, interactions.csv and users.csv.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TasteWorld } from './taste-world.js';
import { npyHeader } from '../training/npy.js';

/** A float32 [rows, cols] matrix as a NumPy .npy file (format 1.0, little-endian, C order). */
export function encodeNpy(rows: readonly Float32Array[]): Buffer {
  const cols = rows[0]?.length ?? 0;
  const data = Buffer.alloc(rows.length * cols * 4);
  rows.forEach((row, r) => row.forEach((v, c) => data.writeFloatLE(v, (r * cols + c) * 4)));
  return Buffer.concat([npyHeader(rows.length, cols), data]);
}

/** RFC 4180 field quoting: only when the value needs it. */
const csvField = (value: string | number) => {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};
const csv = (header: string[], rows: (string | number)[][]) => [header.join(','), ...rows.map((r) => r.map(csvField).join(','))].join('\n') + '\n';

export async function writeDataset(dir: string, world: TasteWorld): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'items.npy'), encodeNpy(world.items.map((i) => i.vector)));
  await writeFile(
    join(dir, 'items.csv'),
    csv(
      ['item', 'prompt'],
      world.items.map((i) => [i.id, i.prompt]),
    ),
  );
  await writeFile(
    join(dir, 'interactions.csv'),
    csv(
      ['user', 'item', 'label', 'ts', 'pair'],
      world.interactions.map((e) => [e.user, e.item, e.label, e.ts, e.pair ?? '']),
    ),
  );
  await writeFile(
    join(dir, 'users.csv'),
    csv(
      ['user', 'group'],
      world.users.map((u) => [u.id, u.group]),
    ),
  );
}

/**
 * Writes what the world's labels were drawn from (WorldTruth) into DIR:
 * - items.npy and items.csv: each item's latent point and style, rows in the dataset's item order;
 * - users.csv and tastes.npy: each user's group and own taste, row for row;
 * - groups.npy: each group's taste;
 * - world.json: the quality direction, its weight, the label noise and the personal spread.
 * Read by `npm run bench:ceiling` (trainer/bench_world_ceiling.py); nothing a tenant could send, so no model reads it.
 */
export async function writeTruth(dir: string, world: TasteWorld): Promise<void> {
  const { truth } = world;
  const rows = (vectors: Float64Array[]) => vectors.map((v) => Float32Array.from(v));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'items.npy'), encodeNpy(rows(world.items.map((i) => truth.latent.get(i.id)!))));
  await writeFile(join(dir, 'tastes.npy'), encodeNpy(rows(world.users.map((u) => truth.tastes.get(u.id)!))));
  await writeFile(join(dir, 'groups.npy'), encodeNpy(rows(truth.groupTastes)));
  await writeFile(
    join(dir, 'items.csv'),
    csv(
      ['item', 'style'],
      world.items.map((i) => [i.id, i.style]),
    ),
  );
  await writeFile(
    join(dir, 'users.csv'),
    csv(
      ['user', 'group'],
      world.users.map((u) => [u.id, u.group]),
    ),
  );
  const worldJson = {
    quality: Array.from(truth.quality),
    qualityWeight: truth.qualityWeight,
    labelNoise: truth.labelNoise,
    personalSpread: truth.personalSpread,
  };
  await writeFile(join(dir, 'world.json'), JSON.stringify(worldJson, null, 2) + '\n');
}

/**
 * Splits a world into two with the same items and disjoint users, about `share` of each taste
 * group in the second. Users are assigned to groups in turn (user i is in group i mod G), so a
 * stride over all users sends whole groups to one side when it shares a factor with G (share 0.5
 * with 4 groups put groups 1 and 3 in test, 0 and 2 in train): the stride then runs within each
 * group. A stride coprime with G is taken over all users, as before, so worlds split that way
 * (share 0.2 with 4 groups) stay what they were. A share that is not 1/k (0.3, 0.75) has no
 * stride: within each group, the user at position p goes to the second part when
 * floor((p + 1) x share) passes a whole number, which spreads round(share x n) of a group's n
 * users evenly. (It once rounded 1/share to a stride, so 0.75 put every user in the second part.)
 */
export function splitWorldByUser(world: TasteWorld, share: number): [TasteWorld, TasteWorld] {
  const groups = new Set(world.users.map((u) => u.group)).size;
  const seenInGroup = new Map<number, number>();
  const positionInGroup = world.users.map((u) => {
    const n = seenInGroup.get(u.group) ?? 0;
    seenInGroup.set(u.group, n + 1);
    return n;
  });
  const stride = strideOf(share);
  const inSecond = stride === undefined ? (i: number) => crossesWhole(positionInGroup[i], share) : splitByStride(stride, groups, positionInGroup);
  const second = new Set(world.users.filter((_, i) => inSecond(i)).map((u) => u.id));
  const part = (toSecond: boolean): TasteWorld => ({
    items: world.items,
    users: world.users.filter((u) => second.has(u.id) === toSecond),
    interactions: world.interactions.filter((e) => second.has(e.user) === toSecond),
    truth: world.truth,
  });
  return [part(false), part(true)];
}

/** k where share is 1/k for a whole k (to within rounding), else undefined. */
function strideOf(share: number): number | undefined {
  const every = Math.round(1 / share);
  return Math.abs(every * share - 1) < 1e-9 ? every : undefined;
}

function splitByStride(every: number, groups: number, positionInGroup: number[]): (i: number) => boolean {
  const position = gcd(every, groups) === 1 ? (i: number) => i : (i: number) => positionInGroup[i];
  return (i) => position(i) % every === every - 1;
}

/** Whether position p's share of a whole (p x share, up to (p + 1) x share) passes a whole number. */
function crossesWhole(p: number, share: number): boolean {
  return Math.floor((p + 1) * share + 1e-9) > Math.floor(p * share + 1e-9);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
