// Resolvers of the model registry (admin): versions, runs, training now, promotion by hand.
// Adapters only: unpack arguments, call the training service, shape rows for the schema.
import type { ModelVersionRow, TrainingRunRow } from '../repositories/model-registry.repository.js';
import type { Context } from './context.js';

type Args<T> = Record<string, unknown> & T;

export const modelResolvers = {
  Query: {
    modelVersions: (_: unknown, args: Args<{ first: number; after?: string }>, ctx: Context) =>
      ctx.services.training.versions(ctx.viewer, args.first, args.after),
    trainingRuns: (_: unknown, args: Args<{ first: number; after?: string }>, ctx: Context) => ctx.services.training.runs(ctx.viewer, args.first, args.after),
    trainingRun: (_: unknown, args: Args<{ id: string }>, ctx: Context) => ctx.services.training.run(ctx.viewer, args.id),
  },
  Mutation: {
    startTraining: (_: unknown, __: unknown, ctx: Context) => ctx.services.training.startTraining(ctx.viewer),
    promoteModelVersion: (_: unknown, args: Args<{ version: number }>, ctx: Context) => ctx.services.training.promote(ctx.viewer, args.version),
  },
  Tenant: {
    servingModel: (_: unknown, __: unknown, ctx: Context) => ctx.services.training.servingVersion(ctx.viewer),
    scoringModel: (_: unknown, __: unknown, ctx: Context) => ctx.services.training.scoringModel(ctx.viewer),
  },
  ModelVersion: {
    trainingRun: (row: ModelVersionRow, _: unknown, ctx: Context) => ctx.services.training.runOfVersion(ctx.viewer, row),
  },
  TrainingRun: {
    timings: (row: TrainingRunRow) =>
      row.timings && { exporting: row.timings.EXPORTING, training: row.timings.TRAINING, evaluating: row.timings.EVALUATING, promoting: row.timings.PROMOTING },
    modelVersion: (row: TrainingRunRow, _: unknown, ctx: Context) => ctx.services.training.versionOfRun(ctx.viewer, row.id),
    dataset: (row: TrainingRunRow) => {
      const d = row.dataset as { items?: number; interactions?: number; train?: { users?: number }; heldOut?: { users?: number } } | null;
      return d && { items: d.items ?? 0, interactions: d.interactions ?? 0, trainingUsers: d.train?.users ?? 0, heldOutUsers: d.heldOut?.users ?? 0 };
    },
  },
};
