// Composition root of the API process: configuration → database → services → HTTP server.
import { loadConfig, ConfigError } from '../config.js';
import { openDatabase } from './wiring/database.js';
import { seedDemoTenant } from './wiring/demo.js';
import { demoKeysPath, loadDemoKeys, saveDemoKeys, type DemoKeys } from './wiring/demo-keys.js';
import { createLogger } from '../logger.js';
import { createServices, trainingRequirementsOf } from './wiring/services.js';
import { createApiServer } from '../graphql/server.js';
import { createApiMetrics } from '../metrics/api-metrics.js';
import { openScorer, watchModelVersions } from './wiring/scorer.js';
import { openEventBus } from './wiring/event-bus.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import { createReadinessCheck } from './wiring/readiness.js';
import { openJobs } from './wiring/jobs.js';
import { createArtifactStore } from '../training/artifact-store.js';
import { describeSchedule } from '../jobs/queues.js';
import type { JobRunner } from '../jobs/runner.js';
import { messageOf } from '../errors.js';
import { surviveUnhandledRejections } from './wiring/unhandled-rejections.js';

async function main() {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  // The database reports into the metrics, which are made once the bus exists; the services
  // are built after them. Read through these.
  // eslint-disable-next-line prefer-const -- assigned below, after the database it reports on exists
  let databaseMetrics: ApiMetrics | undefined;
  let feedIndexBytes = () => 0;
  let liveConnections = () => ({ sockets: 0, subscriptions: 0 });
  const database = await openDatabase(config, {
    onConnectionError: (error) => {
      databaseMetrics?.databaseConnectionErrors.inc();
      log.warn({ err: error }, 'database connection lost; the pool opens a new one when needed');
    },
  });
  const bus = await openEventBus(database, log);
  const metrics = createApiMetrics({
    defaultMetrics: true,
    feedIndexBytes: () => feedIndexBytes(),
    busStatus: () => bus.status(),
    poolStats: () => database.db.poolStats(),
    liveConnections: () => liveConnections(),
  });
  databaseMetrics = metrics;
  const backgroundError = (component: string, error: unknown) => {
    metrics.backgroundErrors.inc({ component });
    void error; // logged where it happened, with its context
  };
  surviveUnhandledRejections(log, (error) => backgroundError('unhandled-rejection', error));
  const scorer = await openScorer(config, log, { onRefused: (_model, _version, error) => backgroundError('model-load', error) });
  const services = createServices(database.db, {
    bus,
    rateLimits: config.rateLimits,
    training: trainingRequirementsOf(config.training),
    artifacts: createArtifactStore(config.worker.tenantModelStore),
    tasteGroups: config.tasteGroups,
    trainingFollowPollMs: config.training.followPollMs,
    onBackgroundError: backgroundError,
    feed: {
      ...config.feed,
      onLiveFeedError: () => metrics.backgroundErrors.inc({ component: 'live-feed' }),
      onIndexRefreshFailed: (tenantId, error) => {
        metrics.backgroundErrors.inc({ component: 'feed-index' });
        log.error(
          { err: error, tenantId, component: 'feed-index' },
          'refreshing or partitioning the feed vector index failed; the next feed of this tenant refreshes again, the next refresh partitions again',
        );
      },
      onIndexPartitioned: (tenantId, outcome) => {
        metrics.indexPartitionings.inc({ outcome: outcome.partitions > 0 ? 'kept' : 'declined', trigger: outcome.trigger });
        // A try on a recall check follows images that changed under the partitions' centroids.
        const why = outcome.trigger === 'recall' ? 'its partitions missed nearest items of the images written since' : 'it is past FEED_INDEX_PARTITION_FLOATS';
        if (outcome.partitions > 0)
          log.info({ tenantId, ...outcome }, `feed vector index partitioned (${why}): feeds scan the nearest FEED_INDEX_PROBE_PERCENT of its partitions`);
        else
          log.info(
            { tenantId, ...outcome },
            `feed vector index not partitioned (${why}): new partitions would miss too many nearest items; feeds scan it whole`,
          );
      },
      onIndexEvicted: (tenantId, bytes) => {
        metrics.indexEvictions.inc();
        log.info({ tenantId, bytes }, 'feed vector index dropped to stay within FEED_INDEX_MAX_MB; rebuilt on its next feed');
      },
    },
    scoring: {
      scorer,
      historyPerKind: config.scoring.historyPerKind,
      timeoutMs: config.scoring.timeoutMs,
      log,
      onScored: (outcome, users) => metrics.scoredUsers.inc({ outcome }, users),
    },
  });
  feedIndexBytes = () => services.indexes.held().bytes;
  const stopWatchingModels = watchModelVersions(scorer, bus, log, () => metrics.backgroundErrors.inc({ component: 'model-watch' }));
  // The jobs (nightly training) run inside this process on the embedded database, where no
  // other process can reach it; with a server, `npm run jobs` runs them (JOBS_IN_PROCESS overrides).
  let jobs: JobRunner | undefined;
  if (config.training.inProcess ?? database.embedded) {
    jobs = await openJobs(config, {
      db: database.db,
      connectionString: database.listenUrl,
      bus,
      predictor: services.predictor,
      tasteGroups: services.tasteGroups,
      log,
      onError: backgroundError,
    });
  }

  let demo: DemoKeys | undefined;
  if (database.embedded && config.embeddedDemo) {
    const keysPath = demoKeysPath(config.embeddedDataDir);
    demo = loadDemoKeys(keysPath);
    if (database.fresh || !demo) {
      log.info('first start of the embedded database: seeding the demo tenant');
      const seeded = await seedDemoTenant(services, database.adminUrl);
      demo = { tenant: seeded.tenant.slug, keys: seeded.keys.map(({ role, key }) => ({ role, key })) };
      saveDemoKeys(keysPath, demo);
    }
  }
  // Tenants whose users changed since their last taste groups (the demo tenant on a first
  // start) are grouped now, through the queue, rather than at the next hourly run.
  // A failure here is logged and counted; the hourly run groups them anyway.
  await jobs?.triggerTasteGroups().catch((error) => {
    backgroundError('taste-groups-schedule', error);
    log.error({ err: error }, 'could not queue taste groups at start; the hourly run does');
  });

  const server = await createApiServer({
    services,
    log,
    maxBodyBytes: config.maxBodyBytes,
    maxQueryDepth: config.maxQueryDepth,
    maxQueryCost: config.maxQueryCost,
    documentLimits: config.documentLimits,
    checkReady: createReadinessCheck(database.db, bus),
    metrics,
    subscriptions: config.feed,
  });
  liveConnections = () => ({ sockets: server.openSockets(), subscriptions: server.openSubscriptions() });
  const url = await server.listen(config.port, config.host);

  // Shutdown is wired before readiness is announced: a signal sent on "ready" must find it.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // A dependency that never finishes closing must not keep the process alive.
    setTimeout(() => {
      log.error('shutdown did not finish within 15 s; exiting anyway');
      process.exit(1);
    }, 15_000).unref();
    stopWatchingModels();
    await jobs?.stop();
    await server.stop();
    // What this instance let through since its last report still counts on the others.
    await services.admission.shareUsage();
    services.admission.stop();
    await bus.close();
    await scorer.close();
    await database.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const lines = [`tastegraph API ready at ${url} (WebSocket: ${url.replace(/^http/, 'ws')})`];
  lines.push(database.embedded ? `database: embedded PostgreSQL in ${config.embeddedDataDir}` : 'database: DATABASE_URL');
  const model = await scorer.modelInfo();
  lines.push(
    config.scoring.workerUrls.length
      ? `scoring: inference workers ${config.scoring.workerUrls.join(', ')}${model ? ` (model version ${model.version})` : ' (none answering yet)'}`
      : `scoring: in this process, ${model ? `model version ${model.version} from ${config.worker.modelStore}` : `no model in ${config.worker.modelStore}: history-centroid fallback`}`,
  );
  lines.push(
    jobs
      ? `training: nightly at ${describeSchedule(config.training.cron)} in this process (startTraining runs one now); tenants' models in ${config.worker.tenantModelStore}`
      : 'training: not in this process (run `npm run jobs`)',
  );
  if (demo) {
    lines.push(`demo tenant "${demo.tenant}" keys (send as "Authorization: Bearer <key>"):`);
    for (const k of demo.keys) lines.push(`  ${k.role.padEnd(5)} ${k.key}`);
  }
  process.stdout.write(`\n${lines.join('\n')}\n\n`);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof ConfigError ? 'configuration error: ' : 'failed to start: '}${messageOf(error)}\n`);
  process.exit(1);
});
