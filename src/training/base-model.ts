// The shipped base model's checkpoint (MODEL_STORE/preference/<version>/ckpt.pt): the model
// that serves a tenant before it has one of its own, so the gate measures a tenant's first
// candidate against it when the dimensions match.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BASE_MODEL, specificVersions } from '../inference/model-names.js';
import { readOnnxMetadata } from '../inference/onnx-metadata.js';

/** The highest base version with a checkpoint for this dimension, or undefined. */
export async function baseCheckpoint(modelStore: string, dim: number): Promise<{ path: string; version: string } | undefined> {
  for (const version of await specificVersions(join(modelStore, BASE_MODEL))) {
    const dir = join(modelStore, BASE_MODEL, version);
    try {
      await stat(join(dir, 'ckpt.pt'));
      const metadata = readOnnxMetadata(new Uint8Array(await readFile(join(dir, 'model.onnx'))));
      if (Number(metadata.embedding_dim) === dim) return { path: join(dir, 'ckpt.pt'), version };
    } catch {
      // no checkpoint, or not readable: try the next version
    }
  }
  return undefined;
}
