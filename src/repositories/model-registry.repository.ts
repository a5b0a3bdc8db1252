// The model registry: each tenant's model versions and the training runs that made them. The
// PROMOTED row is the truth about what serves a tenant; the database keeps at most one per
// tenant, and at most one run QUEUED or RUNNING per tenant (partial unique indexes).
import type { Database, Sql } from './database.js';

export type TrainingTrigger = 'SCHEDULE' | 'MANUAL';
export type TrainingRunStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'SKIPPED' | 'FAILED';
export type TrainingStage = 'EXPORTING' | 'TRAINING' | 'EVALUATING' | 'PROMOTING';
export type ModelVersionStatus = 'CANDIDATE' | 'PROMOTED' | 'REJECTED' | 'FAILED' | 'RETIRED';
export type PromotedBy = 'GATE' | 'MANUAL';

export interface TrainingRunRow {
  id: string;
  tenantId: string;
  trigger: TrainingTrigger;
  status: TrainingRunStatus;
  stage: TrainingStage | null;
  epoch: number | null;
  epochs: number | null;
  loss: number | null;
  validationAccuracy: number | null;
  jobId: string | null;
  heartbeatAt: Date | null;
  queuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: string | null;
  skipReason: string | null;
  dataWatermark: number | null;
  attempts: number;
  dataset: Record<string, unknown> | null;
  /** Seconds per finished stage, by stage name. */
  timings: Partial<Record<TrainingStage, number>> | null;
}

/** What a version's training found of its tenant's taste groups (src/training/taste-classes.ts reads it). */
export interface TasteClasses {
  /**
   * The classes that explain held-out training users best (1: one shared taste, no groups);
   * null when the count was set by `--group-classes` or too few users were left to judge it.
   */
  found: number | null;
  /** The classes the served representation mixes. */
  served: number;
  /** How `found` was decided, in the trainer's words. */
  chosenBy: string;
  /** The training users the classes were fitted on. */
  users: number;
}

export interface ModelVersionRow {
  tenantId: string;
  version: number;
  parentVersion: number | null;
  status: ModelVersionStatus;
  embeddingDim: number;
  evaluation: Record<string, unknown> | null;
  artifactSha256: string | null;
  artifactBytes: number | null;
  trainingRunId: string | null;
  promotedBy: PromotedBy | null;
  trainedAt: Date | null;
  promotedAt: Date | null;
  createdAt: Date;
  reason: string | null;
  /** "version 3", "base-1", or null (trained from scratch). */
  startedFrom: string | null;
  /** What its training found of the tenant's taste groups; null where the trainer did not record it. */
  tasteClasses: TasteClasses | null;
  /** When retention removed its files from the store; null while they are kept. */
  artifactRemovedAt: Date | null;
}

/** What retention reads of each version to decide whose files go. */
export type RetentionRow = Pick<ModelVersionRow, 'version' | 'status' | 'promotedAt' | 'artifactRemovedAt'>;

export interface RunProgress {
  stage?: TrainingStage | null;
  epoch?: number;
  epochs?: number;
  loss?: number | null;
  validationAccuracy?: number | null;
  /** Seconds of stages that ended, merged into those recorded. */
  timings?: Partial<Record<TrainingStage, number>>;
}

export interface RunOutcome {
  status: 'SUCCEEDED' | 'SKIPPED' | 'FAILED';
  error?: string;
  skipReason?: string;
}

const RUN_COLUMNS = `id, tenant_id AS "tenantId", trigger, status, stage, epoch, epochs, loss,
  validation_accuracy AS "validationAccuracy", job_id AS "jobId", heartbeat_at AS "heartbeatAt",
  queued_at AS "queuedAt", started_at AS "startedAt", finished_at AS "finishedAt", error,
  skip_reason AS "skipReason", data_watermark AS "dataWatermark", attempts, dataset, timings`;

const VERSION_COLUMNS = `tenant_id AS "tenantId", version, parent_version AS "parentVersion", status,
  embedding_dim AS "embeddingDim", evaluation, artifact_sha256 AS "artifactSha256",
  artifact_bytes AS "artifactBytes", training_run_id AS "trainingRunId", promoted_by AS "promotedBy",
  trained_at AS "trainedAt", promoted_at AS "promotedAt", created_at AS "createdAt", reason, started_from AS "startedFrom",
  taste_classes AS "tasteClasses", artifact_removed_at AS "artifactRemovedAt"`;

// Promotion and retention of one tenant's versions take this lock in their transactions, so
// retention never removes the files of a version being promoted, nor of the one it retires.
const VERSIONS_LOCK = `SELECT pg_advisory_xact_lock(hashtextextended('tastegraph.model_versions.' || $1::text, 0))`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createModelRegistryRepository(db: Database) {
  const one = async <T>(sql: Sql, text: string, params: unknown[]): Promise<T | undefined> => (await sql.query(text, params)).rows[0] as T | undefined;

  return {
    // ------------------------------------------------------------------ training runs

    /**
     * Queues a run, unless one is queued or running already: then that one is returned with
     * created false (the database allows one active run per tenant).
     */
    async queueRun(tenantId: string, trigger: TrainingTrigger): Promise<{ run: TrainingRunRow; created: boolean }> {
      return db.withTenant(tenantId, async (sql) => {
        const created = await one<TrainingRunRow>(
          sql,
          `INSERT INTO training_runs (tenant_id, trigger) VALUES ($1, $2)
           ON CONFLICT (tenant_id) WHERE status IN ('QUEUED', 'RUNNING') DO NOTHING RETURNING ${RUN_COLUMNS}`,
          [tenantId, trigger],
        );
        if (created) return { run: created, created: true };
        const active = await one<TrainingRunRow>(sql, `SELECT ${RUN_COLUMNS} FROM training_runs WHERE tenant_id = $1 AND status IN ('QUEUED', 'RUNNING')`, [
          tenantId,
        ]);
        // Finished between the two statements: try once more.
        if (!active) throw new Error('training run: the active run finished while queueing; try again');
        return { run: active, created: false };
      });
    },

    async findRun(tenantId: string, runId: string): Promise<TrainingRunRow | undefined> {
      if (!UUID.test(runId)) return undefined;
      return db.withTenant(tenantId, (sql) =>
        one<TrainingRunRow>(sql, `SELECT ${RUN_COLUMNS} FROM training_runs WHERE tenant_id = $1 AND id = $2`, [tenantId, runId]),
      );
    },

    /** Newest first; `afterId` is the last run of the previous page. */
    async listRuns(tenantId: string, limit: number, afterId?: string): Promise<TrainingRunRow[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<TrainingRunRow>(
          `SELECT ${RUN_COLUMNS} FROM training_runs
            WHERE tenant_id = $1
              AND ($2::uuid IS NULL OR (queued_at, id) < (SELECT queued_at, id FROM training_runs WHERE tenant_id = $1 AND id = $2))
            ORDER BY queued_at DESC, id DESC LIMIT $3`,
          [tenantId, afterId ?? null, limit],
        );
        return rows;
      });
    },

    async setJob(tenantId: string, runId: string, jobId: string): Promise<void> {
      await db.withTenant(tenantId, (sql) => sql.query(`UPDATE training_runs SET job_id = $3 WHERE tenant_id = $1 AND id = $2`, [tenantId, runId, jobId]));
    },

    /** QUEUED → RUNNING; undefined when the run is not queued (already done, or taken by another attempt). */
    async startRun(tenantId: string, runId: string, jobId: string): Promise<TrainingRunRow | undefined> {
      return db.withTenant(tenantId, (sql) =>
        one<TrainingRunRow>(
          sql,
          `UPDATE training_runs SET status = 'RUNNING', job_id = $3, started_at = coalesce(started_at, now()), heartbeat_at = now(),
                  attempts = attempts + 1, stage = NULL, epoch = NULL, epochs = NULL, timings = NULL
            WHERE tenant_id = $1 AND id = $2 AND status = 'QUEUED' RETURNING ${RUN_COLUMNS}`,
          [tenantId, runId, jobId],
        ),
      );
    },

    /**
     * Records a sign of life and, if given, progress. False when the run is no longer RUNNING
     * (marked FAILED as stale, say): the caller stops.
     */
    async heartbeat(tenantId: string, runId: string, progress: RunProgress = {}): Promise<boolean> {
      return db.withTenant(tenantId, async (sql) => {
        const { rowCount } = await sql.query(
          `UPDATE training_runs SET heartbeat_at = now(),
                  stage = CASE WHEN $3 THEN $4 ELSE stage END,
                  epoch = coalesce($5, epoch), epochs = coalesce($6, epochs),
                  loss = CASE WHEN $7 THEN $8 ELSE loss END,
                  validation_accuracy = CASE WHEN $9 THEN $10 ELSE validation_accuracy END,
                  timings = CASE WHEN $11::jsonb IS NULL THEN timings ELSE coalesce(timings, '{}'::jsonb) || $11::jsonb END
            WHERE tenant_id = $1 AND id = $2 AND status = 'RUNNING'`,
          [
            tenantId,
            runId,
            progress.stage !== undefined,
            progress.stage ?? null,
            progress.epoch ?? null,
            progress.epochs ?? null,
            progress.loss !== undefined,
            progress.loss ?? null,
            progress.validationAccuracy !== undefined,
            progress.validationAccuracy ?? null,
            progress.timings ? JSON.stringify(progress.timings) : null,
          ],
        );
        return rowCount === 1;
      });
    },

    /** What the export found, and the newest interaction it included. */
    async recordDataset(tenantId: string, runId: string, dataset: Record<string, unknown>, watermark: number): Promise<void> {
      await db.withTenant(tenantId, (sql) =>
        sql.query(`UPDATE training_runs SET dataset = $3, data_watermark = $4 WHERE tenant_id = $1 AND id = $2`, [
          tenantId,
          runId,
          JSON.stringify(dataset),
          watermark,
        ]),
      );
    },

    /** RUNNING → a final status; undefined when the run was not RUNNING any more. */
    async finishRun(tenantId: string, runId: string, outcome: RunOutcome): Promise<TrainingRunRow | undefined> {
      return db.withTenant(tenantId, (sql) =>
        one<TrainingRunRow>(
          sql,
          `UPDATE training_runs SET status = $3, error = $4, skip_reason = $5, finished_at = now(), stage = NULL
            WHERE tenant_id = $1 AND id = $2 AND status = 'RUNNING' RETURNING ${RUN_COLUMNS}`,
          [tenantId, runId, outcome.status, outcome.error ?? null, outcome.skipReason ?? null],
        ),
      );
    },

    /** RUNNING → QUEUED after a failure that may pass, keeping its message; the job queue retries it. */
    async requeueRun(tenantId: string, runId: string, error: string): Promise<boolean> {
      return db.withTenant(tenantId, async (sql) => {
        const { rowCount } = await sql.query(
          `UPDATE training_runs SET status = 'QUEUED', error = $3, stage = NULL WHERE tenant_id = $1 AND id = $2 AND status = 'RUNNING'`,
          [tenantId, runId, error],
        );
        return rowCount === 1;
      });
    },

    /** RUNNING → QUEUED with no job: its process is stopping; the next sweep sends it a new job. */
    async releaseRun(tenantId: string, runId: string, note: string): Promise<boolean> {
      return db.withTenant(tenantId, async (sql) => {
        const { rowCount } = await sql.query(
          `UPDATE training_runs SET status = 'QUEUED', job_id = NULL, error = $3, stage = NULL WHERE tenant_id = $1 AND id = $2 AND status = 'RUNNING'`,
          [tenantId, runId, note],
        );
        return rowCount === 1;
      });
    },

    // ----------------------------------------------------------------- model versions

    /** A new CANDIDATE with the next version number of the tenant. */
    async insertCandidate(
      tenantId: string,
      v: {
        parentVersion: number | null;
        startedFrom: string | null;
        embeddingDim: number;
        trainingRunId: string;
        trainedAt: Date;
        artifactSha256: string;
        artifactBytes: number;
        tasteClasses: TasteClasses | null;
      },
    ): Promise<ModelVersionRow> {
      return db.withTenant(
        tenantId,
        async (sql) =>
          (await one<ModelVersionRow>(
            sql,
            `INSERT INTO model_versions (tenant_id, version, parent_version, started_from, status, embedding_dim, training_run_id, trained_at, artifact_sha256, artifact_bytes, taste_classes)
           SELECT $1, coalesce(max(version), 0) + 1, $2, $3, 'CANDIDATE', $4, $5, $6, $7, $8, $9 FROM model_versions WHERE tenant_id = $1
           RETURNING ${VERSION_COLUMNS}`,
            [
              tenantId,
              v.parentVersion,
              v.startedFrom,
              v.embeddingDim,
              v.trainingRunId,
              v.trainedAt,
              v.artifactSha256,
              v.artifactBytes,
              v.tasteClasses === null ? null : JSON.stringify(v.tasteClasses),
            ],
          ))!,
      );
    },

    /** The gate's numbers and word on a CANDIDATE (REJECTED, or FAILED when its artifact was refused). */
    async judgeCandidate(
      tenantId: string,
      version: number,
      v: { status: 'CANDIDATE' | 'REJECTED' | 'FAILED'; evaluation?: unknown; reason?: string | null },
    ): Promise<ModelVersionRow | undefined> {
      return db.withTenant(tenantId, (sql) =>
        one<ModelVersionRow>(
          sql,
          `UPDATE model_versions SET status = $3, evaluation = coalesce($4, evaluation), reason = $5
            WHERE tenant_id = $1 AND version = $2 AND status = 'CANDIDATE' RETURNING ${VERSION_COLUMNS}`,
          [tenantId, version, v.status, v.evaluation === undefined ? null : JSON.stringify(v.evaluation), v.reason ?? null],
        ),
      );
    },

    /**
     * Makes `version` the one that serves, in one transaction: the version serving so far is
     * RETIRED. Undefined when the version does not exist or cannot serve (FAILED, or its files
     * removed by retention).
     */
    async promote(tenantId: string, version: number, by: PromotedBy): Promise<{ promoted: ModelVersionRow; retired: number | null } | undefined> {
      return db.withTenant(tenantId, async (sql) => {
        await sql.query(VERSIONS_LOCK, [tenantId]);
        const target = await one<ModelVersionRow>(sql, `SELECT ${VERSION_COLUMNS} FROM model_versions WHERE tenant_id = $1 AND version = $2 FOR UPDATE`, [
          tenantId,
          version,
        ]);
        if (!target || target.status === 'FAILED' || target.artifactRemovedAt) return undefined;
        if (target.status === 'PROMOTED') return { promoted: target, retired: null };
        // Retired first: the unique index allows one PROMOTED row per tenant at every statement.
        const retired = await one<{ version: number }>(
          sql,
          `UPDATE model_versions SET status = 'RETIRED' WHERE tenant_id = $1 AND status = 'PROMOTED' RETURNING version`,
          [tenantId],
        );
        const promoted = await one<ModelVersionRow>(
          sql,
          `UPDATE model_versions SET status = 'PROMOTED', promoted_at = now(), promoted_by = $3 WHERE tenant_id = $1 AND version = $2 RETURNING ${VERSION_COLUMNS}`,
          [tenantId, version, by],
        );
        return { promoted: promoted!, retired: retired?.version ?? null };
      });
    },

    /**
     * Marks the files of the versions `choose` picks as removed, under the lock promotion takes,
     * and returns every version whose files are marked removed (now or before), so that the
     * caller deletes what is still on disk.
     */
    async markArtifactsRemoved(tenantId: string, choose: (versions: RetentionRow[]) => number[]): Promise<number[]> {
      return db.withTenant(tenantId, async (sql) => {
        await sql.query(VERSIONS_LOCK, [tenantId]);
        const { rows } = await sql.query<RetentionRow>(
          `SELECT version, status, promoted_at AS "promotedAt", artifact_removed_at AS "artifactRemovedAt"
             FROM model_versions WHERE tenant_id = $1`,
          [tenantId],
        );
        const chosen = choose(rows);
        if (chosen.length > 0) {
          await sql.query(
            `UPDATE model_versions SET artifact_removed_at = now() WHERE tenant_id = $1 AND version = ANY($2::int[]) AND artifact_removed_at IS NULL`,
            [tenantId, chosen],
          );
        }
        return [...rows.filter((r) => r.artifactRemovedAt !== null).map((r) => r.version), ...chosen];
      });
    },

    async promoted(tenantId: string): Promise<ModelVersionRow | undefined> {
      return db.withTenant(tenantId, (sql) =>
        one<ModelVersionRow>(sql, `SELECT ${VERSION_COLUMNS} FROM model_versions WHERE tenant_id = $1 AND status = 'PROMOTED'`, [tenantId]),
      );
    },

    /**
     * The version that serves and the one that served before it (the most recently promoted
     * RETIRED one), in one statement: what scoring reads on a cache miss.
     */
    async servingVersions(tenantId: string): Promise<{ promoted: number | null; previous: number | null }> {
      return db.withTenant(tenantId, async (sql) => {
        const row = await one<{ promoted: number | null; previous: number | null }>(
          sql,
          `SELECT (SELECT version FROM model_versions WHERE tenant_id = $1 AND status = 'PROMOTED') AS promoted,
                  (SELECT version FROM model_versions WHERE tenant_id = $1 AND status = 'RETIRED' AND promoted_at IS NOT NULL
                    ORDER BY promoted_at DESC LIMIT 1) AS previous`,
          [tenantId],
        );
        return { promoted: row?.promoted ?? null, previous: row?.previous ?? null };
      });
    },

    async findVersion(tenantId: string, version: number): Promise<ModelVersionRow | undefined> {
      return db.withTenant(tenantId, (sql) =>
        one<ModelVersionRow>(sql, `SELECT ${VERSION_COLUMNS} FROM model_versions WHERE tenant_id = $1 AND version = $2`, [tenantId, version]),
      );
    },

    async versionOfRun(tenantId: string, runId: string): Promise<ModelVersionRow | undefined> {
      if (!UUID.test(runId)) return undefined;
      return db.withTenant(tenantId, (sql) =>
        one<ModelVersionRow>(sql, `SELECT ${VERSION_COLUMNS} FROM model_versions WHERE tenant_id = $1 AND training_run_id = $2`, [tenantId, runId]),
      );
    },

    /** Highest version first; `beforeVersion` is the last version of the previous page. */
    async listVersions(tenantId: string, limit: number, beforeVersion?: number): Promise<ModelVersionRow[]> {
      return db.withTenant(tenantId, async (sql) => {
        const { rows } = await sql.query<ModelVersionRow>(
          `SELECT ${VERSION_COLUMNS} FROM model_versions WHERE tenant_id = $1 AND ($2::int IS NULL OR version < $2) ORDER BY version DESC LIMIT $3`,
          [tenantId, beforeVersion ?? null, limit],
        );
        return rows;
      });
    },

    // ------------------------------------------- across tenants (narrow SECURITY DEFINER doors)

    async tenantsDueForTraining(): Promise<string[]> {
      return db.withoutTenant(async (sql) =>
        (await sql.query<{ tenant_id: string }>('SELECT tenant_id FROM app_tenants_due_for_training()')).rows.map((r) => r.tenant_id),
      );
    },

    async runsToDispatch(): Promise<{ tenantId: string; runId: string }[]> {
      return db.withoutTenant(
        async (sql) =>
          (await sql.query<{ tenantId: string; runId: string }>('SELECT tenant_id AS "tenantId", run_id AS "runId" FROM app_training_runs_to_dispatch()')).rows,
      );
    },

    /** Marks RUNNING runs without a heartbeat for staleSeconds as FAILED; returns them. */
    async failStaleRuns(staleSeconds: number): Promise<{ tenantId: string; runId: string }[]> {
      return db.withoutTenant(
        async (sql) =>
          (
            await sql.query<{ tenantId: string; runId: string }>('SELECT tenant_id AS "tenantId", run_id AS "runId" FROM app_fail_stale_training_runs($1)', [
              staleSeconds,
            ])
          ).rows,
      );
    },
  };
}

export type ModelRegistryRepository = ReturnType<typeof createModelRegistryRepository>;
