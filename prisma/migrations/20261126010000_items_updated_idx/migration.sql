-- Feeds keep an in-memory vector index per tenant and refresh it with the items changed
-- since the last look: a range scan by (tenant_id, updated_at).
CREATE INDEX "items_tenant_updated_idx" ON "items" ("tenant_id", "updated_at", "id");
