// One training run of one tenant, from stored likes to a promoted (or rejected) version:
//   export the tenant's data, streamed, split by a hash of the user id into training and
//   held-out users → skip, saying why, if there is too little to learn from or to judge by →
//   fine-tune the serving checkpoint with L_base + L_CP (the tenant's own version, or the base
//   model for a tenant of its dimension; from scratch only when nothing of the tenant's
//   dimension serves) → refuse an artifact that breaks the model contract → evaluate the
//   candidate, the serving model and the baselines on the same held-out users → the gate →
//   promote (every worker loads it, then the registry changes, then live feeds hear of it).
// A heartbeat keeps the run alive in the registry; a run whose heartbeat stops is marked FAILED
// by the jobs process's sweep. Failures that may pass (the database or the workers away) put
// the run back in the queue for the job's retry; anything else fails the run with its reason.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrainingConfig } from '../config.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../logger.js';
import type { Predictor } from '../inference/predictor.js';
import { loadPreferenceSession } from '../inference/preference-session.js';
import type {
  ModelRegistryRepository,
  ModelVersionRow,
  RunProgress,
  TasteClasses,
  TrainingRunRow,
  TrainingStage,
} from '../repositories/model-registry.repository.js';
import type { TrainingDataRepository } from '../repositories/training-data.repository.js';
import { isDatabaseUnavailable } from '../repositories/storage-errors.js';
import { describeArtifact, type ArtifactStore } from '../training/artifact-store.js';
import { baseCheckpoint } from '../training/base-model.js';
import { exportDataset, type ExportStats } from '../training/dataset-export.js';
import { judge, type Evaluation } from '../training/promotion-gate.js';
import { promoteVersion, PromotionError } from '../training/promotion.js';
import { designArgs, warmStartArgs } from '../training/trainer-design.js';
import { tasteClassesOf } from '../training/taste-classes.js';
import { runTrainer } from '../training/trainer-process.js';
import type { ModelRetention } from './model-retention.service.js';

/** The training settings (TRAINING_*), the trainer's Python, and where the base model is. */
export type TrainingRunSettings = Pick<
  TrainingConfig,
  | 'epochs'
  | 'fineTuneEpochs'
  | 'maxEpisodesPerEpoch'
  | 'minEpisodesPerEpoch'
  | 'groupEpisodesPerEpoch'
  | 'groupEpochs'
  | 'groupsFrom'
  | 'minUsers'
  | 'minHeldOutUsers'
  | 'heldOutPercent'
  | 'staleSeconds'
  | 'workDir'
  | 'trainerArgs'
> & {
  python: string;
  /** The shipped base model's store (MODEL_STORE): what serves a tenant without its own model. */
  baseModelStore: string;
};

export interface TrainingRunDeps {
  registry: ModelRegistryRepository;
  data: TrainingDataRepository;
  artifacts: ArtifactStore;
  predictor: Pick<Predictor, 'loadTenantModel'>;
  bus: EventBus;
  log: Logger;
  settings: TrainingRunSettings;
  /** A background step failed (logged here with the tenant and run); for a metric. */
  onError?: (component: string, error: unknown) => void;
  /** Removes old versions' files after each run (TRAINING_KEEP_VERSIONS); without it, every version's stay. */
  retention?: Pick<ModelRetention, 'retain'>;
}

/** How a job's attempt ended, for the job queue. */
export type AttemptOutcome = { done: true; run?: TrainingRunRow } | { done: false; retry: true; error: Error };

/** A failure worth another attempt: the dependency may be back by then. */
const mayPass = (error: unknown) => isDatabaseUnavailable(error) || (error instanceof PromotionError && error.kind === 'unreachable');

class RunFailure extends Error {}
class RunSkipped extends Error {}

/** The model that serves a tenant, as training reads it: its checkpoint, and what to call it. */
interface Served {
  checkpoint: string;
  /** The tenant's own version (the candidate's parent), or null for the base model. */
  version: number | null;
  label: string;
}

function skipReason(stats: ExportStats, s: TrainingRunSettings): string | undefined {
  const learners = stats.train.usersWithHistory[1];
  if (learners < s.minUsers) {
    return `too little to learn from: ${learners} training users have at least 2 likes and 2 dislikes; training needs ${s.minUsers} (TRAINING_MIN_USERS)`;
  }
  const judges = stats.heldOut.usersWithHistory[2];
  if (judges < s.minHeldOutUsers) {
    return `too little to evaluate with: ${judges} held-out users have at least 3 likes and 3 dislikes; the gate needs ${s.minHeldOutUsers} (TRAINING_MIN_HELDOUT_USERS; ${s.heldOutPercent}% of users are held out)`;
  }
  return undefined;
}

export function createTrainingRunService(d: TrainingRunDeps) {
  const s = d.settings;

  /** Runs the run's steps; throws RunSkipped, RunFailure, or what a dependency threw. */
  async function steps(run: TrainingRunRow, dir: string, signal: AbortSignal, beat: (p: RunProgress) => Promise<void>, made: { version?: number }) {
    const { tenantId } = run;
    await beat({ stage: 'EXPORTING' });
    const exported = await exportDataset(d.data, tenantId, join(dir, 'data'), s.heldOutPercent);
    const { stats } = exported;
    await d.registry.recordDataset(tenantId, run.id, { ...stats, heldOutPercent: s.heldOutPercent }, stats.watermark);
    const skip = skipReason(stats, s);
    if (skip) throw new RunSkipped(skip);

    // Fine-tune what serves: the tenant's own version, or else the shipped base model when its
    // dimension is the tenant's. Only a tenant with nothing of its dimension trains from scratch.
    const served = await servingCheckpoint(tenantId, stats.dim);
    if (!served) d.log.info({ tenantId, runId: run.id }, "nothing of the tenant's dimension serves with a checkpoint in the store: training from scratch");
    // A tenant's first model gets the full budget even from the base model, which never saw
    // its users; a nightly fine-tune of its own model, the shorter one.
    const epochs = served && served.version !== null ? s.fineTuneEpochs : s.epochs;
    const candidateDir = join(dir, 'candidate');
    await beat({ stage: 'TRAINING', epoch: 0, epochs, loss: null, validationAccuracy: null });
    const trained = await runTrainer({
      python: s.python,
      module: 'train',
      signal,
      args: [
        '--data',
        exported.trainDir,
        '--out',
        candidateDir,
        // The best design measured, the default model's too (training/trainer-design.ts).
        ...designArgs(s, epochs),
        '--progress',
        '--quiet',
        ...warmStartArgs(served, s.epochs, epochs),
        // Last, so `--ensemble off --item-rates off --co-likes off --latent-classes off
        // --choice-prior off` there trains the network alone.
        ...s.trainerArgs,
      ],
      onMessage: (m) => {
        const p = m.progress as { epoch?: number; epochs?: number; loss?: number; val_pairwise?: number | null } | undefined;
        if (p) void beat({ epoch: p.epoch, epochs: p.epochs, loss: p.loss ?? null, validationAccuracy: p.val_pairwise ?? null });
      },
    });
    if (!trained.ok) throw new RunFailure(trained.error);
    warnOfStderr(run, 'train', trained.stderr);

    const version = await recordCandidate(run, stats.dim, candidateDir, served);
    made.version = version.version;
    if (version.status === 'FAILED') throw new RunFailure(`the trained artifact was refused: ${version.reason}`);

    await beat({ stage: 'EVALUATING' });
    const evaluation = await evaluate(run, exported.trainDir, exported.heldOutDir, candidateDir, dir, served?.checkpoint, signal);
    const verdict = judge(evaluation, { minHeldOutUsers: s.minHeldOutUsers, noiseStandardErrors: 2 });
    if (!verdict.promote) {
      await d.registry.judgeCandidate(tenantId, version.version, { status: 'REJECTED', evaluation, reason: verdict.reason });
      d.log.info({ tenantId, runId: run.id, version: version.version, reason: verdict.reason }, 'candidate rejected by the gate; the serving model serves on');
      return;
    }
    await d.registry.judgeCandidate(tenantId, version.version, { status: 'CANDIDATE', evaluation, reason: verdict.reason });
    await beat({ stage: 'PROMOTING' });
    try {
      await promoteVersion({ registry: d.registry, predictor: d.predictor, artifacts: d.artifacts, bus: d.bus, log: d.log }, tenantId, version.version, 'GATE');
    } catch (error) {
      if (error instanceof PromotionError && error.kind === 'refused') {
        await d.registry.judgeCandidate(tenantId, version.version, { status: 'FAILED', reason: error.message });
        throw new RunFailure(error.message);
      }
      throw error;
    }
  }

  /**
   * Logs what a trainer that succeeded wrote on stderr: the trainer warns there of what its
   * operator must know (an epoch kept without validation users, bfloat16 emulated), and a run
   * that succeeds has no error to carry it.
   */
  function warnOfStderr(run: TrainingRunRow, module: 'train' | 'compare', stderr: string[]) {
    if (stderr.length)
      d.log.warn({ tenantId: run.tenantId, runId: run.id, module, stderr }, `the trainer (${module}) succeeded and wrote on stderr: ${stderr.join(' | ')}`);
  }

  /**
   * Checks the artifact against the model contract in onnxruntime (what workers will do), then
   * records the version: FAILED with the reason if refused, else a CANDIDATE copied into the store.
   */
  async function recordCandidate(run: TrainingRunRow, dim: number, candidateDir: string, served: Served | undefined): Promise<ModelVersionRow> {
    const onnx = join(candidateDir, 'model.onnx');
    const checkpoint = join(candidateDir, 'ckpt.pt');
    let refusal: string | undefined;
    try {
      const session = await loadPreferenceSession(onnx, 'candidate', 'cpu', 1);
      await session.release();
      if (session.embeddingDim !== dim) refusal = `it takes item vectors of dimension ${session.embeddingDim}; the tenant's are ${dim}`;
    } catch (error) {
      refusal = (error as Error).message;
    }
    const artifact = await describeArtifact(onnx);
    const version = await d.registry.insertCandidate(run.tenantId, {
      parentVersion: served?.version ?? null,
      startedFrom: served?.label ?? null,
      embeddingDim: dim,
      trainingRunId: run.id,
      trainedAt: new Date(),
      artifactSha256: artifact.sha256,
      artifactBytes: artifact.bytes,
      tasteClasses: await tasteClassesOfRun(run, candidateDir),
    });
    if (refusal) {
      d.log.error(
        { tenantId: run.tenantId, runId: run.id, version: version.version, reason: refusal },
        'trained artifact refused; the serving model serves on',
      );
      return (await d.registry.judgeCandidate(run.tenantId, version.version, { status: 'FAILED', reason: refusal }))!;
    }
    await d.artifacts.put(run.tenantId, version.version, { onnx, checkpoint });
    return version;
  }

  /**
   * What the training found of the tenant's taste groups (its metrics.json). A record that
   * cannot be read is logged and recorded as none: it describes the model, so it fails no run.
   */
  async function tasteClassesOfRun(run: TrainingRunRow, candidateDir: string): Promise<TasteClasses | null> {
    try {
      return tasteClassesOf(JSON.parse(await readFile(join(candidateDir, 'metrics.json'), 'utf8')));
    } catch (error) {
      d.log.warn(
        { tenantId: run.tenantId, runId: run.id, error: (error as Error).message },
        "the trainer's taste-group record (metrics.json) cannot be read: the version records none",
      );
      return null;
    }
  }

  /** What serves the tenant now, if it can be measured and fine-tuned: its own version, else the base model of its dimension. */
  async function servingCheckpoint(tenantId: string, dim: number): Promise<Served | undefined> {
    const own = await d.registry.promoted(tenantId);
    if (own) {
      const usable = own.embeddingDim === dim && (await d.artifacts.has(tenantId, own.version));
      return usable ? { checkpoint: d.artifacts.checkpointPath(tenantId, own.version), version: own.version, label: `version ${own.version}` } : undefined;
    }
    const base = await baseCheckpoint(s.baseModelStore, dim);
    return base && { checkpoint: base.path, version: null, label: `base-${base.version}` };
  }

  async function evaluate(
    run: TrainingRunRow,
    trainDir: string,
    heldOutDir: string,
    candidateDir: string,
    dir: string,
    servingPath: string | undefined,
    signal: AbortSignal,
  ): Promise<Evaluation> {
    const out = join(dir, 'evaluation.json');
    const evaluated = await runTrainer({
      python: s.python,
      module: 'compare',
      signal,
      args: [
        '--train',
        trainDir,
        '--heldout',
        heldOutDir,
        '--candidate',
        join(candidateDir, 'ckpt.pt'),
        '--out',
        out,
        ...(servingPath ? ['--serving', servingPath] : []),
      ],
    });
    if (!evaluated.ok) throw new RunFailure(evaluated.error);
    warnOfStderr(run, 'compare', evaluated.stderr);
    return JSON.parse(await readFile(out, 'utf8')) as Evaluation;
  }

  return {
    /**
     * One attempt at a queued run (a job's delivery). A run that is not QUEUED (done already,
     * or taken by another attempt) is left alone, so a job delivered twice does nothing twice.
     */
    async attempt(tenantId: string, runId: string, jobId: string, canRetry: boolean, shutdown?: AbortSignal): Promise<AttemptOutcome> {
      const run = await d.registry.startRun(tenantId, runId, jobId);
      if (!run) {
        d.log.info({ tenantId, runId, jobId }, 'training run is not queued (done already, or taken): nothing to do');
        return { done: true };
      }
      const log = d.log.child({ tenantId, runId, attempt: run.attempts });
      log.info('training run started');
      // Told after each write a subscriber would see (trainingRunUpdated); the last in finally.
      const changed = () =>
        d.bus.publish({ type: 'training-run-changed', tenantId, runId }).catch((error) => {
          d.onError?.('training-run-announce', error);
          log.warn({ err: error }, "could not announce the run's progress; its followers read it at their next poll");
        });
      void changed();
      const abort = new AbortController();
      // The jobs process is stopping (a deploy): the run goes back to the queue, not to FAILED.
      const onShutdown = () => abort.abort();
      shutdown?.addEventListener('abort', onShutdown, { once: true });
      let alive = true;
      // A stage change closes the stage before it: its seconds go into the run's timings.
      let current: { stage: TrainingStage; since: number } | undefined;
      const beat = async (progress: RunProgress = {}) => {
        if (progress.stage !== undefined) progress = { ...progress, timings: closeStage() };
        if (progress.stage) current = { stage: progress.stage, since: performance.now() };
        try {
          alive = await d.registry.heartbeat(tenantId, runId, progress);
        } catch (error) {
          d.onError?.('training-heartbeat', error);
          log.warn({ err: error }, 'heartbeat failed; trying again at the next one');
          return;
        }
        if (Object.keys(progress).length > 0) void changed();
        // Marked FAILED behind our back (no heartbeat for too long): stop, and leave it so.
        if (!alive && !abort.signal.aborted) {
          log.error('the run was marked failed while it ran (stale heartbeat); stopping it');
          abort.abort();
        }
      };
      function closeStage(): Partial<Record<TrainingStage, number>> | undefined {
        if (!current) return undefined;
        const seconds = Math.round(performance.now() - current.since) / 1000;
        const ended = { [current.stage]: seconds };
        current = undefined;
        return ended;
      }
      const timer = setInterval(() => void beat(), Math.max(1000, Math.min(10_000, (s.staleSeconds * 1000) / 4)));
      const dir = join(s.workDir, `${tenantId}-${runId}`);
      // A candidate this attempt recorded: if the attempt fails after it, the candidate fails too.
      const made: { version?: number } = {};
      const abandon = async (why: string) => {
        if (made.version === undefined) return;
        await d.registry.judgeCandidate(tenantId, made.version, { status: 'FAILED', reason: why }).catch((error) => {
          d.onError?.('training-run', error);
          log.error({ err: error, version: made.version }, 'could not mark the candidate of a failed attempt FAILED; it stays CANDIDATE and never serves');
        });
      };
      /** Records the run's end; if even that fails, the stale-heartbeat sweep fails the run later. */
      const record = <T>(what: string, write: Promise<T>) =>
        write.catch((error) => {
          d.onError?.('training-run', error);
          log.error({ err: error }, `could not record that the run ${what}; the sweep marks it FAILED once its heartbeat is stale`);
          return undefined;
        });
      try {
        await mkdir(dir, { recursive: true });
        await steps(run, dir, abort.signal, beat, made);
        await beat({ stage: null }); // the last stage's seconds
        if (!alive) throw new RunFailure('the run was marked failed while it ran');
        const finished = await d.registry.finishRun(tenantId, runId, { status: 'SUCCEEDED' });
        log.info('training run succeeded');
        return { done: true, run: finished };
      } catch (error) {
        await beat({ stage: null }); // the seconds of the stage it ended in
        if (shutdown?.aborted && alive) {
          log.warn('the jobs process is stopping: the run goes back to the queue');
          await abandon(`its run (attempt ${run.attempts}) was stopped: the jobs process shut down`);
          await record('goes back to the queue', d.registry.releaseRun(tenantId, runId, `attempt ${run.attempts} stopped: the jobs process shut down`));
          return { done: true };
        }
        if (error instanceof RunSkipped) {
          log.info({ reason: error.message }, 'training run skipped');
          return { done: true, run: await d.registry.finishRun(tenantId, runId, { status: 'SKIPPED', skipReason: error.message }) };
        }
        if (canRetry && mayPass(error)) {
          log.warn({ err: error }, 'training run failed for now; the job is retried with backoff');
          await abandon(`its run's attempt ${run.attempts} failed: ${(error as Error).message}`);
          await record('goes back to the queue', d.registry.requeueRun(tenantId, runId, `attempt ${run.attempts} failed: ${(error as Error).message}`));
          return { done: false, retry: true, error: error as Error };
        }
        const message = error instanceof RunFailure ? error.message : `the run failed: ${(error as Error).message}`;
        log.error({ err: error }, 'training run failed; the serving model serves on');
        await abandon(`its run failed: ${message}`);
        return { done: true, run: await record('failed', d.registry.finishRun(tenantId, runId, { status: 'FAILED', error: message })) };
      } finally {
        shutdown?.removeEventListener('abort', onShutdown);
        clearInterval(timer);
        void changed(); // its end: finished, skipped, failed, or back in the queue
        await rm(dir, { recursive: true, force: true }).catch((error) => {
          d.onError?.('training-workdir', error);
          log.warn({ err: error, dir }, "could not remove the run's work folder; it takes disk until removed by hand");
        });
        // After every attempt, whatever its end: a run that added a version may have pushed an
        // older one past TRAINING_KEEP_VERSIONS.
        await d.retention?.retain(tenantId).catch((error) => {
          d.onError?.('model-retention', error);
          log.error({ err: error }, "could not remove old versions' model files; the tenant's next run tries again");
        });
      }
    },
  };
}

export type TrainingRunService = ReturnType<typeof createTrainingRunService>;
