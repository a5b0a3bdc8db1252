// The tenants' model store on disk, a Triton model repository (TENANT_MODEL_STORE):
//   tenant-<id>/config.pbtxt          which versions serve (version_policy specific), from the registry
//   tenant-<id>/<version>/model.onnx  the artifact workers load
//   tenant-<id>/<version>/ckpt.pt     the PyTorch checkpoint the next fine-tune starts from
// A version folder is written whole under a temporary name and renamed into place, so a worker
// never sees half a file; versions are never rewritten (a new model is a new version).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tenantModelName } from '../inference/model-names.js';

export interface ArtifactFiles {
  onnx: string;
  checkpoint: string;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * What the registry records of an artifact: its SHA-256 and size. A missing or empty file
 * (a trainer that wrote nothing) still gets a row, refused: all-zero digest, 1 byte.
 */
export async function describeArtifact(path: string): Promise<{ sha256: string; bytes: number }> {
  const size = (await stat(path).catch(() => undefined))?.size ?? 0;
  return size > 0 ? { sha256: await sha256File(path), bytes: size } : { sha256: '0'.repeat(64), bytes: 1 };
}

/** Triton's model configuration for one tenant's model (the same tensors as models/preference/config.pbtxt). */
export function tritonConfig(name: string, dim: number, userEmbeddingDim: number, versions: readonly number[]): string {
  return `# Written by tastegraph at each promotion, from the model registry (PostgreSQL), which is
# the truth about what serves: the first version listed serves, the second is the one before.
name: "${name}"
backend: "onnxruntime"
max_batch_size: 256
input [
  { name: "history"        data_type: TYPE_FP32  dims: [ -1, ${dim} ] },
  { name: "history_label"  data_type: TYPE_INT64 dims: [ -1 ] },
  { name: "history_mask"   data_type: TYPE_BOOL  dims: [ -1 ] },
  { name: "candidates"     data_type: TYPE_FP32  dims: [ -1, ${dim} ] }
]
output [
  { name: "logits"          data_type: TYPE_FP32 dims: [ -1, 2 ] },
  { name: "user_embedding"  data_type: TYPE_FP32 dims: [ ${userEmbeddingDim} ] }
]
dynamic_batching { max_queue_delay_microseconds: 2000 }
version_policy: { specific: { versions: [${versions.join(', ')}] } }
`;
}

export function createArtifactStore(dir: string) {
  const modelDir = (tenantId: string) => join(dir, tenantModelName(tenantId));
  const versionDir = (tenantId: string, version: number) => join(modelDir(tenantId), String(version));

  return {
    dir,

    /** Copies a trained version into the store (whole, then renamed into place). */
    async put(tenantId: string, version: number, files: ArtifactFiles): Promise<void> {
      const target = versionDir(tenantId, version);
      const staging = `${target}.partial-${process.pid}`;
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true });
      await copyFile(files.onnx, join(staging, 'model.onnx'));
      await copyFile(files.checkpoint, join(staging, 'ckpt.pt'));
      await rm(target, { recursive: true, force: true }); // a leftover of a run that died before recording it
      await rename(staging, target);
    },

    async has(tenantId: string, version: number): Promise<boolean> {
      try {
        await stat(join(versionDir(tenantId, version), 'model.onnx'));
        return true;
      } catch {
        return false;
      }
    },

    /**
     * The version folders of the tenant in the store, and staging folders (`<version>.partial-<pid>`)
     * last changed more than `stagingAgeMs` ago: those a process left when it died mid-copy.
     */
    async onDisk(tenantId: string, stagingAgeMs: number): Promise<{ versions: number[]; staleStaging: string[] }> {
      const entries = await readdir(modelDir(tenantId), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return []; // no version stored yet
        throw error;
      });
      const versions: number[] = [];
      const staleStaging: string[] = [];
      for (const entry of entries.filter((e) => e.isDirectory())) {
        if (/^\d+$/.test(entry.name)) versions.push(Number(entry.name));
        else if (/^\d+\.partial-\d+$/.test(entry.name)) {
          const changed = (await stat(join(modelDir(tenantId), entry.name)).catch(() => undefined))?.mtimeMs;
          if (changed !== undefined && Date.now() - changed > stagingAgeMs) staleStaging.push(entry.name);
        }
      }
      return { versions: versions.sort((a, b) => a - b), staleStaging };
    },

    /** Removes a version's folder (retention), or a stale staging folder by its name. */
    async remove(tenantId: string, folder: number | string): Promise<void> {
      if (!/^\d+(\.partial-\d+)?$/.test(String(folder))) throw new Error(`not a version or staging folder: "${folder}"`);
      await rm(join(modelDir(tenantId), String(folder)), { recursive: true, force: true });
    },

    onnxPath: (tenantId: string, version: number) => join(versionDir(tenantId, version), 'model.onnx'),
    checkpointPath: (tenantId: string, version: number) => join(versionDir(tenantId, version), 'ckpt.pt'),

    /** Says which versions serve, first the one to serve (what Triton and the worker's load read). */
    async writeConfig(tenantId: string, dim: number, userEmbeddingDim: number, versions: readonly number[]): Promise<void> {
      await mkdir(modelDir(tenantId), { recursive: true });
      const path = join(modelDir(tenantId), 'config.pbtxt');
      await writeFile(`${path}.tmp`, tritonConfig(tenantModelName(tenantId), dim, userEmbeddingDim, versions));
      await rename(`${path}.tmp`, path);
    },
  };
}

export type ArtifactStore = ReturnType<typeof createArtifactStore>;
