-- Taste groups (issue 12): each user's representation by the model that serves the tenant,
-- and snapshots of the groups they form. Row-level security on every table, as elsewhere.

-- One row per user and model: the model's user_embedding of the user's latest history.
-- "model" names the model as scoring does: the tenant's own version ("3") or the base model
-- ("base-1"). A user whose newest interaction is past through_interaction is refreshed.
CREATE TABLE "user_embeddings" (
  "tenant_id"           uuid        NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  "model"               text        NOT NULL CHECK (length("model") BETWEEN 1 AND 64),
  "user_id"             bigint      NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
  -- float32, little-endian, as items.embedding (src/repositories/embedding-codec.ts).
  "embedding"           bytea       NOT NULL CHECK (octet_length("embedding") BETWEEN 4 AND 16384 AND octet_length("embedding") % 4 = 0),
  "history_size"        integer     NOT NULL CHECK ("history_size" >= 0),
  "through_interaction" bigint      NOT NULL,
  "computed_at"         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("tenant_id", "model", "user_id")
);
CREATE INDEX "user_embeddings_user_idx" ON "user_embeddings" ("user_id");

CREATE TABLE "taste_group_snapshots" (
  "id"                uuid             PRIMARY KEY DEFAULT gen_random_uuid(),
  "tenant_id"         uuid             NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  "model"             text             NOT NULL,
  "trigger"           text             NOT NULL CHECK ("trigger" IN ('PROMOTION', 'SCHEDULE', 'MANUAL')),
  "k"                 integer          NOT NULL CHECK ("k" >= 1),
  -- SILHOUETTE: the best of a range; ADMIN: asked for by refreshTasteGroups(k).
  "k_source"          text             NOT NULL CHECK ("k_source" IN ('SILHOUETTE', 'ADMIN')),
  "users"             integer          NOT NULL CHECK ("users" >= 0),
  "silhouette"        double precision NOT NULL,
  "davies_bouldin"    double precision NOT NULL,
  "calinski_harabasz" double precision NOT NULL,
  -- Adjusted Rand index against the previous snapshot, over the users both grouped; NULL for the first.
  "stability"         double precision,
  "previous_id"       uuid             REFERENCES "taste_group_snapshots" ("id") ON DELETE SET NULL,
  -- How it was computed: the k tried and their silhouettes, sample size, timings, projection.
  "details"           jsonb            NOT NULL,
  "created_at"        timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX "taste_group_snapshots_tenant_idx" ON "taste_group_snapshots" ("tenant_id", "created_at" DESC);

CREATE TABLE "taste_groups" (
  "id"              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  "tenant_id"       uuid        NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  "snapshot_id"     uuid        NOT NULL REFERENCES "taste_group_snapshots" ("id") ON DELETE CASCADE,
  -- 1 = the largest group of the snapshot.
  "ordinal"         integer     NOT NULL CHECK ("ordinal" >= 1),
  "size"            integer     NOT NULL CHECK ("size" >= 0),
  "centroid"        bytea       NOT NULL,
  -- Users nearest the centroid, nearest first.
  "representatives" bigint[]    NOT NULL,
  -- [{itemId, lift, users}]: what the group likes (dislikes) more than the tenant as a whole.
  "liked"           jsonb       NOT NULL,
  "disliked"        jsonb       NOT NULL,
  -- [{token, activation}]: the preference tokens its users activate most, strongest first.
  "tokens"          jsonb       NOT NULL,
  UNIQUE ("snapshot_id", "ordinal")
);

CREATE TABLE "taste_group_members" (
  "tenant_id"   uuid   NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  "snapshot_id" uuid   NOT NULL REFERENCES "taste_group_snapshots" ("id") ON DELETE CASCADE,
  "user_id"     bigint NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
  "group_id"    uuid   NOT NULL REFERENCES "taste_groups" ("id") ON DELETE CASCADE,
  -- The user in the snapshot's 2-D picture (first two principal components).
  "x"           real   NOT NULL,
  "y"           real   NOT NULL,
  PRIMARY KEY ("snapshot_id", "user_id")
);
CREATE INDEX "taste_group_members_group_idx" ON "taste_group_members" ("group_id", "user_id");
CREATE INDEX "taste_group_members_user_idx" ON "taste_group_members" ("user_id");

ALTER TABLE "user_embeddings"       ENABLE ROW LEVEL SECURITY;
ALTER TABLE "taste_group_snapshots" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "taste_groups"          ENABLE ROW LEVEL SECURITY;
ALTER TABLE "taste_group_members"   ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "user_embeddings"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());
CREATE POLICY "tenant_isolation" ON "taste_group_snapshots"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());
CREATE POLICY "tenant_isolation" ON "taste_groups"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());
CREATE POLICY "tenant_isolation" ON "taste_group_members"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON "user_embeddings", "taste_group_snapshots", "taste_groups", "taste_group_members" TO tastegraph_app;

-- Tenants whose users liked or disliked anything since their latest snapshot (or that have
-- none yet): the hourly job refreshes their changed users' representations and groups them
-- again. Ids only, for the jobs process, which acts for one tenant at a time afterwards.
CREATE FUNCTION app_tenants_due_for_taste_groups()
  RETURNS TABLE ("tenant_id" uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT t."id" FROM "tenants" t
     WHERE EXISTS (
       SELECT 1 FROM "interactions" i
        WHERE i."tenant_id" = t."id"
          AND i."created_at" > coalesce((SELECT max(s."created_at") FROM "taste_group_snapshots" s WHERE s."tenant_id" = t."id"), '-infinity'))
     ORDER BY t."created_at", t."id"
  $$;
REVOKE ALL ON FUNCTION app_tenants_due_for_taste_groups() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_tenants_due_for_taste_groups() TO tastegraph_app;
