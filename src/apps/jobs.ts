// Composition root of the jobs process (`npm run jobs`), for a PostgreSQL server: the nightly
// training schedule, training runs, the sweep that fails runs whose trainer died, and taste
// groups (hourly, and after each promotion). With the
// embedded database the same jobs run inside `npm start` instead. Serves /health/live,
// /health/ready and /metrics on JOBS_PORT.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { loadConfig, ConfigError } from '../config.js';
import { openDatabase } from './wiring/database.js';
import { openJobs } from './wiring/jobs.js';
import { createLogger } from '../logger.js';
import { createPostgresBus } from '../events/event-bus.js';
import { openScorer } from './wiring/scorer.js';
import { createServices, trainingRequirementsOf } from './wiring/services.js';
import { describeSchedule } from '../jobs/queues.js';
import { messageOf } from '../errors.js';
import { surviveUnhandledRejections } from './wiring/unhandled-rejections.js';

async function main() {
  const config = loadConfig();
  if (!config.databaseUrl) {
    throw new ConfigError('npm run jobs needs DATABASE_URL (a PostgreSQL server); with the embedded database the jobs run inside npm start');
  }
  const log = createLogger(config.logLevel, 'tastegraph-jobs');
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const errors = new Counter({
    name: 'tastegraph_background_errors_total',
    help: 'Background failures by component (logged with their context)',
    labelNames: ['component'],
    registers: [metrics],
  });
  surviveUnhandledRejections(log, () => errors.inc({ component: 'unhandled-rejection' }));
  const database = await openDatabase(config, {
    onConnectionError: (error) => log.warn({ err: error }, 'database connection lost; the pool opens a new one when needed'),
  });
  const bus = await createPostgresBus(database.listenUrl, log);
  // Scoring as the API does it: the workers when WORKER_URLS names them, else the model store
  // in this process. Promotions load on the workers (or here, and API instances load on the
  // event); taste groups compute users' representations through it.
  const scorer = await openScorer(config, log, { onRefused: () => errors.inc({ component: 'model-load' }) });
  const services = createServices(database.db, {
    bus,
    training: trainingRequirementsOf(config.training),
    tasteGroups: config.tasteGroups,
    onBackgroundError: (component) => errors.inc({ component }),
    scoring: { scorer, historyPerKind: config.scoring.historyPerKind, timeoutMs: config.scoring.timeoutMs, log },
  });
  const jobs = await openJobs(config, {
    db: database.db,
    connectionString: database.listenUrl,
    bus,
    predictor: services.predictor,
    tasteGroups: services.tasteGroups,
    log,
    onError: (component) => errors.inc({ component }),
  });

  const http = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', metrics.contentType);
      // A failure to collect answers 500 and is logged (an unhandled rejection would end the process).
      return void metrics.metrics().then(
        (text) => res.end(text),
        (error: unknown) => {
          log.error({ err: error }, 'could not collect metrics');
          res.statusCode = 500;
          res.end();
        },
      );
    }
    if (req.url === '/health/live') return void res.end('{"status":"ok"}');
    if (req.url === '/health/ready') {
      const ready = bus.status().listening;
      res.statusCode = ready ? 200 : 503;
      return void res.end(JSON.stringify({ status: ready ? 'ok' : 'event bus not listening' }));
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => http.listen(config.jobsPort, config.host, resolve));

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: runs in progress go back to the queue');
    setTimeout(() => process.exit(1), 30_000).unref();
    http.close();
    await jobs.stop();
    await bus.close();
    await scorer.close();
    await database.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.stdout.write(
    `tastegraph jobs ready: nightly training at ${describeSchedule(config.training.cron)}; tenants' models in ${config.worker.tenantModelStore}; ` +
      `${config.scoring.workerUrls.length ? `promotions load on ${config.scoring.workerUrls.join(', ')}` : 'no WORKER_URLS: models load in this process, and API instances load promoted versions themselves'}; ` +
      `taste groups at ${config.tasteGroups.cron} (cron, UTC) and after each promotion; ` +
      `metrics at http://${config.host}:${(http.address() as AddressInfo).port}/metrics\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error instanceof ConfigError ? 'configuration error: ' : 'jobs failed to start: '}${messageOf(error)}\n`);
  process.exit(1);
});
