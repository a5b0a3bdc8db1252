// Model names in the store and on the Open Inference Protocol: the shipped base model is
// "preference"; each tenant's own model is "tenant-<tenant id>", one Triton model per tenant.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const BASE_MODEL = 'preference';

const TENANT_MODEL = /^tenant-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const tenantModelName = (tenantId: string) => `tenant-${tenantId.toLowerCase()}`;

export const isTenantModelName = (name: string) => TENANT_MODEL.test(name);

/**
 * The versions a model folder serves, first the one to serve: those its config.pbtxt names
 * (`version_policy: { specific: { versions: [3, 2] } }`, as written at promotion from the
 * registry), else every version folder, highest first.
 */
export async function specificVersions(modelDir: string): Promise<string[]> {
  let config: string | undefined;
  try {
    config = await readFile(join(modelDir, 'config.pbtxt'), 'utf8');
  } catch {
    config = undefined;
  }
  const listed = config && /specific\s*:?\s*\{\s*versions\s*:\s*\[([\d\s,]*)\]/.exec(config);
  if (listed)
    return listed[1]
      .split(',')
      .map((v) => v.trim())
      .filter((v) => /^[1-9]\d*$/.test(v));
  try {
    const entries = await readdir(modelDir, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory() && /^[1-9]\d*$/.test(e.name))
      .map((e) => e.name)
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    return [];
  }
}
