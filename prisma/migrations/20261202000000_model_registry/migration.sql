-- The model registry (issue 11): every tenant's model versions and the training runs that
-- made them. The registry row is the truth about what serves: the worker loads the version
-- whose status is PROMOTED, whatever files the store holds. Statuses are text with CHECKs,
-- not enums, for the same reason as interactions.kind (enum equality is not LEAKPROOF, and
-- under row-level security that keeps the planner off the indexes).

CREATE TABLE "training_runs" (
  "id"                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  "tenant_id"           uuid        NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  "trigger"             text        NOT NULL CHECK ("trigger" IN ('SCHEDULE', 'MANUAL')),
  "status"              text        NOT NULL DEFAULT 'QUEUED' CHECK ("status" IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'SKIPPED', 'FAILED')),
  -- Progress while RUNNING: epoch of epochs, the last epoch's loss and validation accuracy.
  "epoch"               integer     CHECK ("epoch" >= 0),
  "epochs"              integer     CHECK ("epochs" >= 1),
  "loss"                double precision,
  "validation_accuracy" double precision,
  -- The pg-boss job that runs it, and the last sign of life of its trainer: a run whose
  -- heartbeat stops is marked FAILED, not left RUNNING.
  "job_id"              text,
  "heartbeat_at"        timestamptz,
  "queued_at"           timestamptz NOT NULL DEFAULT now(),
  "started_at"          timestamptz,
  "finished_at"         timestamptz,
  "error"               text,
  "skip_reason"         text,
  CHECK ("status" <> 'FAILED' OR "error" IS NOT NULL),
  CHECK ("status" <> 'SKIPPED' OR "skip_reason" IS NOT NULL)
);
CREATE INDEX "training_runs_tenant_idx" ON "training_runs" ("tenant_id", "queued_at" DESC, "id");
-- One run per tenant at a time.
CREATE UNIQUE INDEX "training_runs_one_active" ON "training_runs" ("tenant_id") WHERE "status" IN ('QUEUED', 'RUNNING');

CREATE TABLE "model_versions" (
  "tenant_id"       uuid        NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  -- Per tenant, from 1; the OIP model tenant-<tenant id> serves it as this version.
  "version"         integer     NOT NULL CHECK ("version" >= 1),
  "parent_version"  integer,
  "status"          text        NOT NULL CHECK ("status" IN ('CANDIDATE', 'PROMOTED', 'REJECTED', 'FAILED', 'RETIRED')),
  "embedding_dim"   integer     NOT NULL CHECK ("embedding_dim" BETWEEN 1 AND 4096),
  -- The gate's numbers: candidate, serving model and baselines on the same held-out users.
  "evaluation"      jsonb,
  "artifact_sha256" text        CHECK ("artifact_sha256" ~ '^[0-9a-f]{64}$'),
  "artifact_bytes"  bigint      CHECK ("artifact_bytes" > 0),
  "training_run_id" uuid        REFERENCES "training_runs" ("id") ON DELETE SET NULL,
  -- Set when promoted by hand (promoteModelVersion), to tell a rollback from the gate's word.
  "promoted_by"     text        CHECK ("promoted_by" IN ('GATE', 'MANUAL')),
  "trained_at"      timestamptz,
  "promoted_at"     timestamptz,
  "created_at"      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("tenant_id", "version"),
  FOREIGN KEY ("tenant_id", "parent_version") REFERENCES "model_versions" ("tenant_id", "version")
);
-- At most one version of a tenant serves.
CREATE UNIQUE INDEX "model_versions_one_promoted" ON "model_versions" ("tenant_id") WHERE "status" = 'PROMOTED';

ALTER TABLE "training_runs"  ENABLE ROW LEVEL SECURITY;
ALTER TABLE "model_versions" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "training_runs"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());
CREATE POLICY "tenant_isolation" ON "model_versions"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());

GRANT SELECT, INSERT, UPDATE ON "training_runs", "model_versions" TO tastegraph_app;
