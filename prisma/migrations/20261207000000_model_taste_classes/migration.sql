-- What a model version's training found of its tenant's taste groups (trainer/class_count.py,
-- recorded from the trainer's metrics.json): how many latent classes explain the training
-- users best, judged on users held out from the fit, and how many the served representation
-- mixes. Null for versions trained before it was recorded and for models that group by a
-- network's tokens. The admin's snapshot shows it: one class found means the users share one
-- taste, so the groups k-means draws are no more than a partition.
ALTER TABLE "model_versions" ADD COLUMN "taste_classes" jsonb;
