-- Training jobs (issue 11): what a run records beyond its status, and the few narrow doors
-- the jobs process needs across tenants. Everything else it does runs as tastegraph_app
-- inside one tenant's transaction, under row-level security.

-- The newest interaction a run's export included: a tenant is due for the nightly run when
-- it has interactions past the watermark of its last finished run.
ALTER TABLE "training_runs" ADD COLUMN "data_watermark" bigint;
-- What the run is doing now (exporting, training, evaluating, promoting), for live progress.
ALTER TABLE "training_runs" ADD COLUMN "stage" text CHECK ("stage" IN ('EXPORTING', 'TRAINING', 'EVALUATING', 'PROMOTING'));
-- Attempts so far: a failure that may pass (the database restarting, a worker away) is
-- retried with backoff by pg-boss, on the same run.
ALTER TABLE "training_runs" ADD COLUMN "attempts" integer NOT NULL DEFAULT 0 CHECK ("attempts" >= 0);
-- What the export found: users, items, interactions, training and held-out users.
ALTER TABLE "training_runs" ADD COLUMN "dataset" jsonb;
-- Seconds each stage took (EXPORTING, TRAINING, EVALUATING, PROMOTING), as each one ends.
ALTER TABLE "training_runs" ADD COLUMN "timings" jsonb;

-- Why a version was refused (FAILED: its artifact) or rejected (REJECTED: the gate's words).
ALTER TABLE "model_versions" ADD COLUMN "reason" text;
-- What its training started from: "version 3" (the tenant's, also in parent_version), "base-1"
-- (the shipped base model, for a tenant of its dimension without a model of its own), or null
-- (from scratch).
ALTER TABLE "model_versions" ADD COLUMN "started_from" text;
CREATE INDEX "model_versions_run_idx" ON "model_versions" ("training_run_id");
-- Listing a tenant's versions newest first.
CREATE INDEX "model_versions_tenant_created_idx" ON "model_versions" ("tenant_id", "created_at" DESC, "version" DESC);

-- Tenants with interactions past the watermark of their last SUCCEEDED or SKIPPED run (a
-- FAILED one does not count: its tenant is due again) and no run queued or running. The
-- nightly fan-out starts one run for each. It reads across tenants, which row-level
-- security rightly forbids the API's role, so it is a function owned by the migrating role
-- that returns tenant ids and nothing else.
CREATE FUNCTION app_tenants_due_for_training()
  RETURNS TABLE ("tenant_id" uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT t."id" FROM "tenants" t
     WHERE NOT EXISTS (SELECT 1 FROM "training_runs" r WHERE r."tenant_id" = t."id" AND r."status" IN ('QUEUED', 'RUNNING'))
       AND EXISTS (
         SELECT 1 FROM "interactions" i
          WHERE i."tenant_id" = t."id"
            AND i."id" > coalesce((SELECT max(r."data_watermark") FROM "training_runs" r
                                    WHERE r."tenant_id" = t."id" AND r."status" IN ('SUCCEEDED', 'SKIPPED')), 0))
     ORDER BY t."created_at", t."id"
  $$;

-- Runs queued with no job yet (startTraining from the API, which has no access to the job
-- queue): the jobs process sends a job for each.
CREATE FUNCTION app_training_runs_to_dispatch()
  RETURNS TABLE ("tenant_id" uuid, "run_id" uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT r."tenant_id", r."id" FROM "training_runs" r
     WHERE r."status" = 'QUEUED' AND r."job_id" IS NULL
     ORDER BY r."queued_at"
  $$;

-- Runs whose trainer stopped giving signs of life (its process was killed, its machine
-- lost): marked FAILED, never left RUNNING, so the tenant's next run can start.
CREATE FUNCTION app_fail_stale_training_runs(p_stale_seconds integer)
  RETURNS TABLE ("tenant_id" uuid, "run_id" uuid)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    UPDATE "training_runs" r
       SET "status" = 'FAILED', "finished_at" = now(), "stage" = NULL,
           "error" = format('the trainer stopped reporting: no heartbeat since %s (more than %s s); its process was killed or its machine lost',
                            to_char(r."heartbeat_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), p_stale_seconds)
     WHERE r."status" = 'RUNNING' AND r."heartbeat_at" < now() - make_interval(secs => p_stale_seconds)
    RETURNING r."tenant_id", r."id"
  $$;

REVOKE ALL ON FUNCTION app_tenants_due_for_training() FROM PUBLIC;
REVOKE ALL ON FUNCTION app_training_runs_to_dispatch() FROM PUBLIC;
REVOKE ALL ON FUNCTION app_fail_stale_training_runs(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_tenants_due_for_training() TO tastegraph_app;
GRANT EXECUTE ON FUNCTION app_training_runs_to_dispatch() TO tastegraph_app;
GRANT EXECUTE ON FUNCTION app_fail_stale_training_runs(integer) TO tastegraph_app;
