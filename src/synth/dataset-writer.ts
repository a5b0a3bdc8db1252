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

/** Splits a world into two with the same items and disjoint users: every user whose index falls in the share goes to the second. */
export function splitWorldByUser(world: TasteWorld, share: number): [TasteWorld, TasteWorld] {
  const every = Math.round(1 / share);
  const second = new Set(world.users.filter((_, i) => i % every === every - 1).map((u) => u.id));
  const part = (inSecond: boolean): TasteWorld => ({
    items: world.items,
    users: world.users.filter((u) => second.has(u.id) === inSecond),
    interactions: world.interactions.filter((e) => second.has(e.user) === inSecond),
  });
  return [part(false), part(true)];
}
