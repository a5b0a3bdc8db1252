-- Data lifecycle (issue 13): the latest state per user and item, undo, user erasure with its
-- record, item removal. Row-level security on every new table, as elsewhere.

-- An undo is an event too: the log keeps it (User.history shows it, and the hourly taste
-- groups and the representations see that the user changed), and it ends the pair's state.
ALTER TABLE "interactions" DROP CONSTRAINT "interactions_kind_check";
ALTER TABLE "interactions" ADD CONSTRAINT "interactions_kind_check" CHECK ("kind" IN ('LIKE', 'DISLIKE', 'CLEAR'));

-- What the user thinks of the item now: the latest LIKE or DISLIKE event of the pair, unless a
-- CLEAR came after it (then no row). The model, feeds, exports and counts read this table;
-- the log (interactions) keeps every event. interaction_id is the event that set the state:
-- an upsert only replaces a state with a later event, so concurrent writers of one pair end
-- on the latest event whatever order they commit in. No foreign key to interactions: both
-- rows go when their user or item goes (each cascades), and a key would cost every delete of
-- an interaction a lookup here.
CREATE TABLE "interaction_states" (
  "tenant_id"      uuid        NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  "user_id"        bigint      NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
  "item_id"        bigint      NOT NULL REFERENCES "items" ("id") ON DELETE CASCADE,
  "kind"           text        NOT NULL CHECK ("kind" IN ('LIKE', 'DISLIKE')),
  "interaction_id" bigint      NOT NULL,
  PRIMARY KEY ("tenant_id", "user_id", "item_id")
);
-- The model's history (a user's latest N likes, latest N dislikes): one bounded backward scan
-- per kind, as interactions_user_kind_recent_idx gave before.
CREATE INDEX "interaction_states_user_kind_recent_idx"
  ON "interaction_states" ("tenant_id", "user_id", "kind", "interaction_id" DESC) INCLUDE ("item_id");
-- Deleting an item cascades here.
CREATE INDEX "interaction_states_item_idx" ON "interaction_states" ("item_id");

-- Every pair's latest event becomes its state.
INSERT INTO "interaction_states" ("tenant_id", "user_id", "item_id", "kind", "interaction_id")
SELECT DISTINCT ON ("tenant_id", "user_id", "item_id") "tenant_id", "user_id", "item_id", "kind", "id"
  FROM "interactions"
 ORDER BY "tenant_id", "user_id", "item_id", "id" DESC;

-- Erased users: the record that an erasure happened, never what was erased. user_hash is
-- app_user_hash(tenant, external id), a keyed hash: the external id cannot be read back from
-- it (ids are often e-mail addresses, which a plain hash would give away to a dictionary),
-- yet a later erasure of the same id, or a training export after a restore from a backup,
-- recognises the user.
CREATE TABLE "user_erasures" (
  "id"          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  "tenant_id"   uuid        NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  "user_hash"   bytea       NOT NULL CHECK (octet_length("user_hash") = 32),
  "erased_at"   timestamptz NOT NULL DEFAULT now(),
  -- Rows removed, by kind ({"interactions": 12, ...}): counts only.
  "removed"     jsonb       NOT NULL,
  -- The role of the key that asked (app or admin).
  "requested_by" text       NOT NULL CHECK ("requested_by" IN ('app', 'admin'))
);
CREATE INDEX "user_erasures_user_idx" ON "user_erasures" ("tenant_id", "user_hash", "erased_at" DESC);

ALTER TABLE "interaction_states" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "user_erasures"      ENABLE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "interaction_states"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());
CREATE POLICY "tenant_isolation" ON "user_erasures"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON "interaction_states" TO tastegraph_app;
-- The record of an erasure is never changed by the API.
GRANT SELECT, INSERT ON "user_erasures" TO tastegraph_app;

INSERT INTO "app_secrets" ("name", "value")
VALUES ('user_hash', decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));

-- The keyed hash of a tenant's external user id: the tenant is part of the input, so two
-- tenants' users of one id do not share a hash; the secret stays in the database.
CREATE FUNCTION app_user_hash(p_tenant uuid, p_external_id text) RETURNS bytea
  LANGUAGE sql STABLE
  AS $$
    SELECT sha256(s."value" || convert_to(p_tenant::text || E'\n' || p_external_id, 'UTF8'))
      FROM "app_secrets" s WHERE s."name" = 'user_hash'
  $$;
