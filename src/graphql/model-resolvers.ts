// Resolvers of the model registry (admin): versions, runs, training now, promotion by hand.
// Adapters only: unpack arguments, call the training service, shape rows for the schema.
import type { Resolvers } from './generated/resolvers.js';

export const modelResolvers: Resolvers = {
  Query: {
    modelVersions: (_, args, ctx) => ctx.services.training.versions(ctx.viewer, args.first, args.after),
    trainingRuns: (_, args, ctx) => ctx.services.training.runs(ctx.viewer, args.first, args.after),
    trainingRun: (_, args, ctx) => ctx.services.training.run(ctx.viewer, args.id),
  },
  Mutation: {
    startTraining: (_, __, ctx) => ctx.services.training.startTraining(ctx.viewer),
    promoteModelVersion: (_, args, ctx) => ctx.services.training.promote(ctx.viewer, args.version),
  },
  Tenant: {
    servingModel: (_, __, ctx) => ctx.services.training.servingVersion(ctx.viewer),
    scoringModel: (_, __, ctx) => ctx.services.training.scoringModel(ctx.viewer),
  },
  ModelVersion: {
    trainingRun: (row, _, ctx) => ctx.services.training.runOfVersion(ctx.viewer, row),
  },
  ModelEvaluation: {
    // Versions judged before the gate knew choices were gated on the label regression alone.
    globalBaselineKind: (e) => e.globalBaselineKind ?? 'LABELS',
  },
  TrainingRun: {
    timings: (row) =>
      row.timings && { exporting: row.timings.EXPORTING, training: row.timings.TRAINING, evaluating: row.timings.EVALUATING, promoting: row.timings.PROMOTING },
    modelVersion: (row, _, ctx) => ctx.services.training.versionOfRun(ctx.viewer, row.id),
    dataset: (row) => {
      const d = row.dataset as { items?: number; interactions?: number; train?: { users?: number }; heldOut?: { users?: number } } | null;
      return d && { items: d.items ?? 0, interactions: d.interactions ?? 0, trainingUsers: d.train?.users ?? 0, heldOutUsers: d.heldOut?.users ?? 0 };
    },
  },
};
