// Making a version serve a tenant, by the gate or by hand (a rollback). The order is what keeps
// every answer truthful: the store says which versions serve (config.pbtxt), every worker
// loads the new one (the Open Inference Protocol's repository load), and only then does the
// registry, the truth, change and the event go out; API instances then load it too before
// they send traffic to it. A worker that refuses the version (a corrupt or contract-breaking
// file) stops the promotion: the registry is untouched and the version before serves on.
import { readFile } from 'node:fs/promises';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import type { Predictor } from '../inference/predictor.js';
import { readOnnxMetadata } from '../inference/onnx-metadata.js';
import type { ModelRegistryRepository, ModelVersionRow, PromotedBy } from '../repositories/model-registry.repository.js';
import type { ArtifactStore } from './artifact-store.js';

export class PromotionError extends Error {
  constructor(
    message: string,
    readonly kind: 'not-found' | 'not-servable' | 'refused' | 'unreachable',
  ) {
    super(message);
    this.name = 'PromotionError';
  }
}

export interface PromotionDeps {
  registry: Pick<ModelRegistryRepository, 'findVersion' | 'promoted' | 'promote'>;
  predictor: Pick<Predictor, 'loadTenantModel'>;
  artifacts: ArtifactStore;
  bus: EventBus;
  log: Logger;
}

export async function promoteVersion(d: PromotionDeps, tenantId: string, version: number, by: PromotedBy): Promise<ModelVersionRow> {
  const target = await d.registry.findVersion(tenantId, version);
  if (!target) throw new PromotionError(`model version ${version} not found`, 'not-found');
  if (target.status === 'PROMOTED') return target;
  if (target.status === 'FAILED')
    throw new PromotionError(`model version ${version} cannot serve: ${target.reason ?? 'its artifact was refused'}`, 'not-servable');
  if (target.artifactRemovedAt) {
    throw new PromotionError(
      `model version ${version} cannot serve: retention removed its files from the model store on ${target.artifactRemovedAt.toISOString()} (TRAINING_KEEP_VERSIONS keeps the newest versions' files, and always the serving one and the one before it)`,
      'not-servable',
    );
  }
  if (!(await d.artifacts.has(tenantId, version))) {
    throw new PromotionError(`model version ${version} cannot serve: its artifact is not in the model store (${d.artifacts.dir})`, 'not-servable');
  }
  const current = await d.registry.promoted(tenantId);
  let metadata: Record<string, string>;
  try {
    metadata = await storedMetadata(d.artifacts, tenantId, version);
  } catch (error) {
    throw new PromotionError(`model version ${version} cannot serve: its artifact cannot be read (${(error as Error).message})`, 'refused');
  }
  const serving = current ? [current.version] : [];
  let servingDim: number | undefined;
  if (current) {
    try {
      servingDim = userEmbeddingDim(await storedMetadata(d.artifacts, tenantId, current.version));
    } catch (error) {
      d.log.warn(
        { tenantId, version: current.version, error: (error as Error).message },
        "the serving version's artifact cannot be read for its user embedding width: config.pbtxt declares any width",
      );
    }
  }
  const userDim = declaredUserEmbeddingDim([userEmbeddingDim(metadata), ...(current ? [servingDim] : [])]);
  await d.artifacts.writeConfig(tenantId, target.embeddingDim, userDim, [version, ...serving]);
  // No outcome at all: this process reaches no worker (API instances scoring in process load
  // the version themselves on the event, before they serve it).
  const outcomes = await d.predictor.loadTenantModel(tenantId);
  const refused = outcomes.filter((o) => o.refused);
  if (refused.length > 0 || (outcomes.length > 0 && outcomes.every((o) => !o.ok))) {
    if (serving.length) await d.artifacts.writeConfig(tenantId, target.embeddingDim, declaredUserEmbeddingDim([servingDim]), serving);
    const why = (refused.length ? refused : outcomes).map((o) => o.error).join('; ');
    d.log.error({ tenantId, version, outcomes }, 'promotion stopped: the new version did not load; the version before serves on');
    throw new PromotionError(`model version ${version} was not promoted: ${why}`, refused.length ? 'refused' : 'unreachable');
  }
  for (const o of outcomes.filter((x) => !x.ok)) {
    d.log.warn({ tenantId, version, target: o.target, error: o.error }, 'a worker did not answer the load; it loads the version on its first request');
  }
  const result = await d.registry.promote(tenantId, version, by);
  if (!result) throw new PromotionError(`model version ${version} cannot serve`, 'not-servable');
  d.log.info({ tenantId, version, retired: result.retired, by }, 'model version promoted');
  await d.bus.publish({ type: 'model-promoted', tenantId, version: String(version) });
  return result.promoted;
}

/** A version's user_embedding width from its ONNX metadata (models from before that field: their tokens' count, the activations alone). */
function userEmbeddingDim(metadata: Record<string, string>): number {
  return Number(metadata.user_embedding_dim) || Number(metadata.preference_tokens) || 1;
}

/** A stored version's ONNX metadata (throws where its artifact cannot be read). */
async function storedMetadata(artifacts: ArtifactStore, tenantId: string, version: number): Promise<Record<string, string>> {
  return readOnnxMetadata(new Uint8Array(await readFile(artifacts.onnxPath(tenantId, version))));
}

/**
 * The user_embedding width config.pbtxt declares for the versions it lists: theirs where they all
 * agree and are known, else -1 (any width), so that Triton refuses neither for the other's. Since
 * session 56 a tenant's user embedding is as wide as its latent classes (two numbers each), and
 * their count is chosen afresh by every nightly run, so a new version and the one before it can differ.
 */
export function declaredUserEmbeddingDim(dims: readonly (number | undefined)[]): number {
  const first = dims[0];
  return first !== undefined && dims.every((d) => d === first) ? first : -1;
}
