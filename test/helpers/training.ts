// Training in tests: a tenant loaded with a synthetic taste world through the services (as an
// app would send it), and the real job runner (pg-boss, the Python trainer) with settings
// small enough to train a model in seconds that still beats the global baseline.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config.js';
import { openJobs } from '../../src/apps/wiring/jobs.js';
import type { JobRunner } from '../../src/jobs/runner.js';
import type { Services } from '../../src/apps/wiring/services.js';
import type { Viewer } from '../../src/services/viewer.js';
import { generateTasteWorld, type TasteWorld, type TasteWorldOptions } from '../../src/synth/taste-world.js';
import type { Database } from '../../src/repositories/database.js';
import type { ModelRegistryRepository, TrainingRunRow } from '../../src/repositories/model-registry.repository.js';
import type { TestApi } from './api.js';

/** 300 users of 4 taste groups, 50 likes and dislikes each: 240 train, about 60 held out. */
export const SMALL_WORLD: Partial<TasteWorldOptions> = { users: 300, items: 300, groups: 4, interactionsPerUser: 50, labelNoise: 0.04 };

/** Loads a taste world of the tenant's dimension; event ids start with `prefix`. */
export async function seedWorld(services: Services, viewer: Viewer, dim: number, options: Partial<TasteWorldOptions> = {}, prefix = 'seed') {
  return loadWorld(services, viewer, generateTasteWorld({ ...SMALL_WORLD, ...options, dim }), prefix);
}

/** Loads a world's items and interactions through the services, as an app would send them. */
export async function loadWorld(services: Services, viewer: Viewer, world: TasteWorld, prefix = 'seed') {
  for (let i = 0; i < world.items.length; i += 1000) {
    await services.items.upsert(
      viewer,
      world.items.slice(i, i + 1000).map((item) => ({ id: item.id, prompt: item.prompt, embedding: Array.from(item.vector) })),
    );
  }
  for (let i = 0; i < world.interactions.length; i += 1000) {
    await services.interactions.record(
      viewer,
      world.interactions.slice(i, i + 1000).map((e, j) => ({
        userId: e.user,
        itemId: e.item,
        kind: e.label === 1 ? ('LIKE' as const) : ('DISLIKE' as const),
        pairId: e.pair,
        eventId: `${prefix}-${i + j}`,
      })),
    );
  }
  return world;
}

/** Settings that train the small world in about 10 s on one CPU thread (measured: pairwise 65 against the global baseline's 59, and a fine-tune at this rate improves on it). */
export const FAST_TRAINING: Record<string, string> = {
  TRAINING_EPOCHS: '8',
  TRAINING_FINE_TUNE_EPOCHS: '2',
  TRAINING_MAX_EPISODES: '4000',
  // As before TRAINING_MIN_EPISODES existed: the tests' small models need no more. Their user
  // embedding is the latent classes' (TRAINING_GROUPS_FROM's default), which train nothing.
  TRAINING_MIN_EPISODES: '0',
  TRAINING_TRAINER_ARGS: '--width 32 --layers 1 --lr 1e-2',
};

export interface TestJobs {
  runner: JobRunner;
  tenantStore: string;
  workDir: string;
}

/** The real job runner against a test database, sharing the API's bus and predictor. */
export async function startTestJobs(
  services: Services,
  db: Database,
  connectionString: string,
  env: Record<string, string> & { TENANT_MODEL_STORE: string; MODEL_STORE: string },
  log: Logger = pino({ level: process.env.TEST_LOG ?? 'silent' }),
): Promise<TestJobs> {
  const workDir = mkdtempSync(join(tmpdir(), 'tg-training-'));
  const config = loadConfig({ ...FAST_TRAINING, TRAINING_WORK_DIR: workDir, ...env });
  const runner = await openJobs(config, {
    db,
    connectionString,
    bus: services.bus,
    predictor: services.predictor,
    tasteGroups: services.tasteGroups,
    log,
  });
  return { runner, tenantStore: env.TENANT_MODEL_STORE, workDir };
}

/** The run once it has finished (SUCCEEDED, FAILED or SKIPPED), read from the registry. */
export function runFinished(registry: Pick<ModelRegistryRepository, 'findRun'>, tenantId: string, runId: string, timeoutMs = 180_000): Promise<TrainingRunRow> {
  return eventually(
    `run ${runId} finished`,
    async () => {
      const r = await registry.findRun(tenantId, runId);
      return r && ['SUCCEEDED', 'FAILED', 'SKIPPED'].includes(r.status) ? r : undefined;
    },
    timeoutMs,
  );
}

/** Polls until check returns a value (not undefined), or fails after timeoutMs. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Trains the tenant's next version now through the API, promotes it and returns the taste-group
 * snapshot its promotion makes, with `fields`. What callers check is what follows a promotion,
 * not the gate: the tests' small model trained on 240 users is within noise of the global
 * baseline on 40 held-out users (seen: 58.9 against 59.6 pairwise, paired -3.2 +- 4.4), so a
 * rejected candidate is promoted by hand, which announces the promotion the same way.
 */
export async function trainAndRegroup(api: Pick<TestApi, 'gql'>, adminKey: string, fields: string) {
  const gql = async (query: string) => {
    const r = await api.gql(adminKey, query);
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return r.data;
  };
  const before = (await gql('{ tasteGroups { id } }')).tasteGroups?.id ?? null;
  const run = (await gql('mutation { startTraining { id } }')).startTraining;
  const trained = await eventually(
    'the training run to finish',
    async () => {
      const r = (await gql(`{ trainingRun(id: "${run.id}") { status error skipReason modelVersion { version status reason } } }`)).trainingRun;
      if (['FAILED', 'SKIPPED'].includes(r.status)) throw new Error(`run ${r.status}: ${r.error ?? r.skipReason}`);
      return r.status === 'SUCCEEDED' ? r : undefined;
    },
    240_000,
    500,
  );
  const { version } = trained.modelVersion;
  if (trained.modelVersion.status === 'REJECTED') {
    console.log(`the gate rejected version ${version} (${trained.modelVersion.reason}); promoting it by hand`);
    await gql(`mutation { promoteModelVersion(version: ${version}) { status } }`);
  }
  return eventually(
    'a snapshot by the promoted version',
    async () => {
      const snapshot = (await gql(`{ tasteGroups { id model ${fields} } }`)).tasteGroups;
      return snapshot && snapshot.id !== before && snapshot.model === String(version) ? snapshot : undefined;
    },
    240_000,
    500,
  );
}
