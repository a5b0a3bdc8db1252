-- Foundation: tenants, API keys, users, items, interactions, with row-level security.
-- Applied by `npm run db:migrate` (src/repositories/migrator.ts) as the table owner; the
-- application itself connects as tastegraph_app, which is neither superuser nor owner, so
-- every policy below applies to it.

CREATE TYPE "ApiKeyRole" AS ENUM ('app', 'admin');

-- The tenant of the current transaction, set by the application with
-- set_config('app.tenant_id', <uuid>, true). Unset or empty means "no tenant": every
-- policy then matches nothing, so a forgotten set_config fails closed.
CREATE FUNCTION app_current_tenant() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE TABLE "tenants" (
  "id"            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  "name"          text        NOT NULL CHECK (length("name") BETWEEN 1 AND 200),
  "slug"          text        NOT NULL UNIQUE CHECK ("slug" ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  "embedding_dim" integer     NOT NULL CHECK ("embedding_dim" BETWEEN 1 AND 4096),
  "created_at"    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE "api_keys" (
  "id"           uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
  "tenant_id"    uuid         NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  "name"         text         NOT NULL DEFAULT '',
  -- The visible start of the key (e.g. "tg_3f9a1c2e"), shown in listings so a person can
  -- tell keys apart; the secret part is stored only as a SHA-256 hash.
  "prefix"       text         NOT NULL UNIQUE,
  "key_hash"     bytea        NOT NULL UNIQUE CHECK (octet_length("key_hash") = 32),
  "role"         "ApiKeyRole" NOT NULL,
  "created_at"   timestamptz  NOT NULL DEFAULT now(),
  "revoked_at"   timestamptz,
  "last_used_at" timestamptz
);
CREATE INDEX "api_keys_tenant_idx" ON "api_keys" ("tenant_id", "created_at");

CREATE TABLE "users" (
  "id"          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "tenant_id"   uuid        NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  "external_id" text        NOT NULL CHECK (length("external_id") BETWEEN 1 AND 256),
  "created_at"  timestamptz NOT NULL DEFAULT now(),
  UNIQUE ("tenant_id", "external_id")
);

CREATE TABLE "items" (
  "id"          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "tenant_id"   uuid        NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  "external_id" text        NOT NULL CHECK (length("external_id") BETWEEN 1 AND 256),
  "url"         text,
  "prompt"      text,
  -- float32 little-endian, 4 bytes per dimension: a quarter of the size of JSON and read
  -- straight into a Float32Array. Its length must match the tenant's dimension (trigger).
  "embedding"   bytea       NOT NULL,
  "created_at"  timestamptz NOT NULL DEFAULT now(),
  "updated_at"  timestamptz NOT NULL DEFAULT now(),
  UNIQUE ("tenant_id", "external_id")
);
-- Keyset pagination of a tenant's items in creation order.
CREATE INDEX "items_tenant_id_idx" ON "items" ("tenant_id", "id");

CREATE FUNCTION items_check_embedding_dim() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
DECLARE
  dim integer;
BEGIN
  SELECT "embedding_dim" INTO dim FROM "tenants" WHERE "id" = NEW."tenant_id";
  IF dim IS NULL THEN
    RAISE EXCEPTION 'items: tenant % is not visible in this transaction', NEW."tenant_id"
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF octet_length(NEW."embedding") <> 4 * dim THEN
    RAISE EXCEPTION 'embedding: expected % float32 values (% bytes), got % bytes',
      dim, 4 * dim, octet_length(NEW."embedding") USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER "items_embedding_dim" BEFORE INSERT OR UPDATE OF "embedding" ON "items"
  FOR EACH ROW EXECUTE FUNCTION items_check_embedding_dim();

CREATE TABLE "interactions" (
  "id"         bigint            GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "tenant_id"  uuid              NOT NULL REFERENCES "tenants" ("id") ON DELETE CASCADE,
  "user_id"    bigint            NOT NULL REFERENCES "users" ("id") ON DELETE CASCADE,
  "item_id"    bigint            NOT NULL REFERENCES "items" ("id") ON DELETE CASCADE,
  -- text, not an enum: enum equality is not LEAKPROOF, so under row-level security the
  -- planner may not use "kind = 'LIKE'" as an index condition; text equality it may.
  "kind"       text              NOT NULL CHECK ("kind" IN ('LIKE', 'DISLIKE')),
  -- Two interactions sharing a pair id are one choice between two images for one prompt.
  "pair_id"    text              CHECK (length("pair_id") BETWEEN 1 AND 256),
  -- Client-chosen idempotency key: a retried event with the same id is not stored twice.
  "event_id"   text              CHECK (length("event_id") BETWEEN 1 AND 256),
  "created_at" timestamptz       NOT NULL DEFAULT now(),
  UNIQUE ("tenant_id", "event_id")
);
-- A user's latest N likes (or dislikes): one bounded backward range scan, no sort. The
-- identity id is the insertion order, so it is both the recency order and a stable cursor.
-- The whole history, newest first, is the merge of the two kinds' scans (Merge Append), so
-- no second index over (tenant_id, user_id, id) is needed on the ingest path.
CREATE INDEX "interactions_user_kind_recent_idx"
  ON "interactions" ("tenant_id", "user_id", "kind", "id" DESC) INCLUDE ("item_id");
-- Deleting an item cascades here; without this index that is a sequential scan.
CREATE INDEX "interactions_item_idx" ON "interactions" ("item_id");

-- Row-level security: every tenant table shows and accepts only the current tenant's rows.
ALTER TABLE "tenants"      ENABLE ROW LEVEL SECURITY;
ALTER TABLE "api_keys"     ENABLE ROW LEVEL SECURITY;
ALTER TABLE "users"        ENABLE ROW LEVEL SECURITY;
ALTER TABLE "items"        ENABLE ROW LEVEL SECURITY;
ALTER TABLE "interactions" ENABLE ROW LEVEL SECURITY;

CREATE POLICY "tenant_isolation" ON "tenants"
  USING ("id" = app_current_tenant()) WITH CHECK ("id" = app_current_tenant());
CREATE POLICY "tenant_isolation" ON "api_keys"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());
CREATE POLICY "tenant_isolation" ON "users"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());
CREATE POLICY "tenant_isolation" ON "items"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());
CREATE POLICY "tenant_isolation" ON "interactions"
  USING ("tenant_id" = app_current_tenant()) WITH CHECK ("tenant_id" = app_current_tenant());

-- Authentication happens before the tenant is known, so it cannot run under the policies.
-- This function, owned by the migrating role (which bypasses RLS as table owner), is the
-- one narrow door: given a key hash it returns that key's tenant and role, and records
-- use at most once a minute so that every request does not write a row.
CREATE FUNCTION app_authenticate(p_key_hash bytea)
  RETURNS TABLE ("key_id" uuid, "tenant_id" uuid, "role" "ApiKeyRole", "revoked" boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  UPDATE "api_keys" k SET "last_used_at" = now()
   WHERE k."key_hash" = p_key_hash AND k."revoked_at" IS NULL
     AND (k."last_used_at" IS NULL OR k."last_used_at" < now() - interval '1 minute');
  RETURN QUERY
    SELECT k."id", k."tenant_id", k."role", k."revoked_at" IS NOT NULL
      FROM "api_keys" k WHERE k."key_hash" = p_key_hash;
END $$;

-- The application's role. Roles are cluster-wide, so several databases (one per test file,
-- say) share it: create it only if missing, tolerating a concurrent creator.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tastegraph_app') THEN
    CREATE ROLE tastegraph_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END $$;

GRANT USAGE ON SCHEMA public TO tastegraph_app;
-- Tenants are created by operators (npm run tenant:create, as the owner), never by the API.
GRANT SELECT, UPDATE ON "tenants" TO tastegraph_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON "api_keys", "users", "items", "interactions" TO tastegraph_app;
REVOKE ALL ON FUNCTION app_authenticate(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_authenticate(bytea) TO tastegraph_app;
