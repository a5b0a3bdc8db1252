-- The hourly check for tenants due for taste groups read every interaction of every tenant:
-- with no index on created_at it walked each tenant's rows through (tenant_id, event_id),
-- fetching each row and evaluating the latest snapshot's time once per row (13.1 s at 5
-- million interactions, growing with the table; bench/due-checks.ts). This index answers "any
-- interaction of this tenant since that time" with one probe, and the function now reads the
-- latest snapshot's time once per tenant.
CREATE INDEX "interactions_tenant_created_idx" ON "interactions" ("tenant_id", "created_at");

CREATE OR REPLACE FUNCTION app_tenants_due_for_taste_groups()
  RETURNS TABLE ("tenant_id" uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT t."id" FROM "tenants" t
      CROSS JOIN LATERAL (SELECT max(s."created_at") AS "at" FROM "taste_group_snapshots" s WHERE s."tenant_id" = t."id") latest
     WHERE EXISTS (
       SELECT 1 FROM "interactions" i
        WHERE i."tenant_id" = t."id" AND i."created_at" > coalesce(latest."at", '-infinity'))
     ORDER BY t."created_at", t."id"
  $$;
