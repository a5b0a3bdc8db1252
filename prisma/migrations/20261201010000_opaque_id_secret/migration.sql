-- Row ids are global sequences shared by all tenants; shown as they are, a tenant could count
-- another tenant's writes between two of its own. The API shows them encrypted with this
-- secret (AES over the id and a tag bound to the tenant), made once per database so that
-- every API instance shows the same ids. 244 random bits from two random UUIDs.
CREATE TABLE "app_secrets" (
  "name"  text  PRIMARY KEY,
  "value" bytea NOT NULL
);
INSERT INTO "app_secrets" ("name", "value")
VALUES ('opaque_ids', decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
GRANT SELECT ON "app_secrets" TO tastegraph_app;
