// Writes a tenant's data as two preference datasets (../shared/CONTRACTS.md section 1) that
// share one items.npy and items.csv: train/ (the users the model learns from) and heldout/
// (the users it is judged on). Rows stream from PostgreSQL to files with bounded memory:
// items.npy's header is written from the count first, each user's rows arrive together, and
// per-user counts are kept only for the user being written.
import { createWriteStream, type WriteStream } from 'node:fs';
import { link, mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import type { ExportInteractionRow, TrainingDataRepository } from '../repositories/training-data.repository.js';
import { npyHeader } from './npy.js';
import { isHeldOut } from './split.js';

export interface SplitStats {
  users: number;
  interactions: number;
  /** Users with at least n + 1 likes and n + 1 dislikes, by n: those EVAL-1(n) can evaluate (before pairs are taken out). */
  usersWithHistory: { 1: number; 2: number; 4: number; 8: number };
}

export interface ExportStats {
  items: number;
  dim: number;
  interactions: number;
  likes: number;
  dislikes: number;
  train: SplitStats;
  heldOut: SplitStats;
  /** The newest interaction exported (its id): the run's watermark. */
  watermark: number;
}

export interface ExportedDataset {
  dir: string;
  trainDir: string;
  heldOutDir: string;
  stats: ExportStats;
}

const csvField = (value: string | number | null) => {
  const text = value === null ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

async function write(stream: WriteStream, text: string | Buffer): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

async function finish(stream: WriteStream): Promise<void> {
  stream.end();
  await once(stream, 'finish');
}

const emptySplit = (): SplitStats => ({ users: 0, interactions: 0, usersWithHistory: { 1: 0, 2: 0, 4: 0, 8: 0 } });

export async function exportDataset(repository: TrainingDataRepository, tenantId: string, dir: string, heldOutPercent: number): Promise<ExportedDataset> {
  const trainDir = join(dir, 'train');
  const heldOutDir = join(dir, 'heldout');
  await mkdir(trainDir, { recursive: true });
  await mkdir(heldOutDir, { recursive: true });
  const npy = createWriteStream(join(dir, 'items.npy'));
  const itemsCsv = createWriteStream(join(dir, 'items.csv'));
  const header = 'user,item,label,ts,pair\n';
  const trainCsv = createWriteStream(join(trainDir, 'interactions.csv'));
  const heldOutCsv = createWriteStream(join(heldOutDir, 'interactions.csv'));
  const stats: ExportStats = { items: 0, dim: 0, interactions: 0, likes: 0, dislikes: 0, train: emptySplit(), heldOut: emptySplit(), watermark: 0 };
  // The user being written: its rows arrive together, so only its counts are held.
  let user: { id: string; heldOut: boolean; likes: number; dislikes: number } | undefined;

  const closeUser = () => {
    if (!user) return;
    const split = user.heldOut ? stats.heldOut : stats.train;
    split.users++;
    for (const n of [1, 2, 4, 8] as const) if (user.likes > n && user.dislikes > n) split.usersWithHistory[n]++;
  };

  try {
    await write(itemsCsv, 'item,prompt\n');
    await write(trainCsv, header);
    await write(heldOutCsv, header);
    await repository.exportSnapshot(tenantId, {
      async begin(items, dim) {
        stats.items = items;
        stats.dim = dim;
        await write(npy, npyHeader(items, dim));
      },
      async items(rows) {
        for (const row of rows) {
          await write(npy, row.embedding);
          await write(itemsCsv, `${csvField(row.externalId)},${csvField(row.prompt)}\n`);
        }
      },
      async interactions(rows: ExportInteractionRow[]) {
        for (const row of rows) {
          if (row.userExternalId !== user?.id) {
            closeUser();
            user = { id: row.userExternalId, heldOut: isHeldOut(row.userExternalId, heldOutPercent), likes: 0, dislikes: 0 };
          }
          const like = row.kind === 'LIKE';
          if (like) user.likes++;
          else user.dislikes++;
          stats.interactions++;
          if (like) stats.likes++;
          else stats.dislikes++;
          (user.heldOut ? stats.heldOut : stats.train).interactions++;
          stats.watermark = Math.max(stats.watermark, row.id);
          const line = `${csvField(row.userExternalId)},${csvField(row.itemExternalId)},${like ? 1 : 0},${row.ts},${csvField(row.pairId)}\n`;
          await write(user.heldOut ? heldOutCsv : trainCsv, line);
        }
      },
    });
    closeUser();
  } finally {
    await Promise.all([finish(npy), finish(itemsCsv), finish(trainCsv), finish(heldOutCsv)]);
  }
  // Both datasets read the same items: links, not copies (20,000 items of dimension 512 are 41 MB).
  for (const split of [trainDir, heldOutDir]) {
    await link(join(dir, 'items.npy'), join(split, 'items.npy'));
    await link(join(dir, 'items.csv'), join(split, 'items.csv'));
  }
  return { dir, trainDir, heldOutDir, stats };
}
