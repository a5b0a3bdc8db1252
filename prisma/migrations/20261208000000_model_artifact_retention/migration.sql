-- When retention removed a model version's files from the tenants' store (TRAINING_KEEP_VERSIONS):
-- its row stays, with its evaluation and lineage, but it can no longer be promoted. Null while its
-- files are kept. Every nightly run adds a version (a few MB of files), which stayed for ever before.
ALTER TABLE "model_versions" ADD COLUMN "artifact_removed_at" timestamptz;
