// Environment → validated, frozen Config. Nothing else in the code base reads process.env,
// so every setting is listed here, with its default and the rule it must satisfy.

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Where `npm run jobs` serves its health and metrics. */
  readonly jobsPort: number;
  /** Where the API connects, as a role that row-level security applies to. Absent: embedded PGlite. */
  readonly databaseUrl: string | undefined;
  /** Where migrations and operator commands connect, as the tables' owner. */
  readonly databaseAdminUrl: string | undefined;
  readonly databasePoolSize: number;
  /** If set, db:migrate gives the API's role (tastegraph_app) this password. */
  readonly appDbPassword: string | undefined;
  readonly embeddedDataDir: string;
  readonly logLevel: string;
  readonly maxBodyBytes: number;
  readonly maxQueryDepth: number;
  readonly maxQueryCost: number;
  /** Limits on the query text, checked before it is parsed and validated. */
  readonly documentLimits: { readonly maxBytes: number; readonly maxTokens: number; readonly maxFields: number; readonly maxAliases: number };
  /** Seed the synthetic demo tenant when the embedded database is first created. */
  readonly embeddedDemo: boolean;
  /** The Python that runs trainer/ (Debian's python3-torch lives under /usr/bin/python3). */
  readonly trainerPython: string;
  readonly worker: WorkerConfig;
  readonly scoring: ScoringConfig;
  readonly feed: FeedConfig;
  readonly rateLimits: RateLimitConfig;
  readonly training: TrainingConfig;
  readonly tasteGroups: TasteGroupsConfig;
}

/** Users' representations, similar users and taste groups (src/services/taste-group.service.ts). */
export interface TasteGroupsConfig {
  /** When changed users' representations are refreshed and the users grouped again (cron, UTC). */
  readonly cron: string;
  /** Latest likes and latest dislikes a representation reads (scoring reads HISTORY_PER_KIND). */
  readonly historyPerKind: number;
  /** A user needs this many likes and dislikes to be represented and grouped. */
  readonly minPerKind: number;
  /**
   * k by silhouette within [minK, maxK], unless the admin gives one; maxK is raised to the model's
   * latent classes where it has more (clustering/choose-k.ts's largestK).
   */
  readonly minK: number;
  readonly maxK: number;
  /** Users the silhouette is measured on (it is quadratic in users). */
  readonly silhouetteSample: number;
  /** Snapshots kept per tenant. */
  readonly keepSnapshots: number;
  /** Users per model call when computing representations. */
  readonly batchSize: number;
}

/** The nightly fine-tune and its gate (src/services/training-run.service.ts). */
export interface TrainingConfig {
  /** When the nightly fan-out runs (cron, UTC). */
  cron: string;
  /** Run the jobs inside the API process: the embedded default; with a server, `npm run jobs` instead. */
  inProcess: boolean | undefined;
  /** Epochs of a tenant's first model, and of a fine-tune of its own serving version. */
  epochs: number;
  /** trainingRunUpdated reads its run at least this often (ms), in case an announcement was lost. */
  followPollMs: number;
  fineTuneEpochs: number;
  /** Episodes per epoch at most: bounds the time a large tenant takes. */
  maxEpisodesPerEpoch: number;
  /** Episodes per epoch at least for the network that scores (more per user for a small tenant); 0: its natural 8 a user. */
  minEpisodesPerEpoch: number;
  /**
   * Episodes per epoch at least for the network whose preference tokens give the user embedding
   * (similar users, taste groups): where the scoring network draws fewer, a second network, the
   * taste-group network, trains this many (trainer --group-episodes). With 8 per user, a tenant
   * of 1,000 users stopped training before its tokens had formed (docs/taste-groups.md), while a
   * small tenant scores best at 8 per user (docs/preference-model.md, session 42). 0: one network.
   */
  groupEpisodesPerEpoch: number;
  /**
   * Epochs of a first taste-group network, which starts from the scoring network just trained
   * and keeps its last epoch (session 44: on the six-group world it grouped better than 20
   * epochs from the scoring network's start, in 8 epochs' time instead of 20). A fine-tune's taste-group
   * network trains the fine-tune's epochs, or this many if fewer.
   */
  groupEpochs: number;
  /**
   * Where the served user embedding (taste groups, similar users) comes from. `classes` (the
   * default since session 55): EM's latent classes of the tenant's training users, at least 10 and
   * more where held-out training users need more (trainer/class_count.py, session 56), as an
   * untrained taste-group network (trainer --group-from classes), for every tenant; on the
   * six-group world they grouped tenants of 62-240 training users far better than the trained
   * tokens, 800 as well, and 2,160 better within noise and steadier from seed to seed
   * (docs/taste-groups.md, "Latent classes as the taste groups"), in seconds. `network`: the
   * tokens training forms, with a taste-group network of groupEpisodesPerEpoch x groupEpochs for a
   * small tenant (sessions 42-54).
   */
  groupsFrom: 'classes' | 'network';
  /** Training needs this many users with 2 likes and 2 dislikes, and this many held-out users for the gate. */
  minUsers: number;
  minHeldOutUsers: number;
  /** Share of users held out (chosen by a hash of their id). */
  heldOutPercent: number;
  /** A RUNNING run without a heartbeat this long is marked FAILED. */
  staleSeconds: number;
  /** Further attempts after a failure that may pass (database or workers away). */
  retries: number;
  /** The longest a run may take before its job expires. */
  timeoutMinutes: number;
  /** Where runs export their data and train (each run's folder is removed afterwards). */
  workDir: string;
  /**
   * The newest versions of a tenant whose files stay in the model store after each run; older
   * versions' files are removed (their registry rows stay), except the serving version and the
   * one before it. 0 keeps every version's files.
   */
  keepVersions: number;
  /** Further flags for trainer/train.py (a new model's shape, say: --width 128 --tokens 16). */
  trainerArgs: readonly string[];
}

/** Per API instance: each instance counts its own traffic. */
export interface RateLimitConfig {
  readonly perKey: { readonly perSecond: number; readonly burst: number };
  readonly perTenant: { readonly perSecond: number; readonly burst: number };
  readonly gate: { readonly maxInFlight: number; readonly maxQueued: number };
  /** How often (ms) an instance reports its rate-limit usage to the others; 0: limits per instance. */
  readonly shareMs: number;
}

export interface FeedConfig {
  /** Candidates scored per feed. */
  readonly poolSize: number;
  /** Share of the pool taken from the items nearest the user's likes. */
  readonly nearShare: number;
  /** Bytes all tenants' vector indexes may take in one API process. */
  readonly indexBudgetBytes: number;
  /** Numbers a nearest-items scan multiplies before the event loop gets a turn; 0: the whole scan at once. */
  readonly scanSliceFloats: number;
  /** Numbers (items x dimension) past which a tenant's index is partitioned (approximate); 0: always exact. */
  readonly partitionFloats: number;
  /** Share of a partitioned index's partitions a feed's scan reads, nearest first. */
  readonly probeShare: number;
  readonly subscriptionsPerConnection: number;
  readonly subscriptionsPerTenant: number;
  readonly subscriptionsPerKey: number;
  readonly socketsPerKey: number;
  readonly coalesceMs: number;
  readonly maxBufferedBytes: number;
}

export interface WorkerConfig {
  readonly port: number;
  readonly host: string;
  /** Triton-style model store of the shipped base model: <store>/preference/<version>/model.onnx. */
  readonly modelStore: string;
  /** Triton-style store of the tenants' own models: <store>/tenant-<id>/<version>/model.onnx (written by training). */
  readonly tenantModelStore: string;
  /** Memory the tenants' loaded model versions may take (estimated); least recently used unloaded first. */
  readonly modelCacheBytes: number;
  readonly pollMs: number;
  /** How many of the highest versions stay loaded, as Triton's version_policy latest num_versions. */
  readonly versionsKept: number;
  readonly provider: 'cpu' | 'cuda';
  /**
   * onnxruntime intra-op threads; 0 = its default (one per core, which spin while idle).
   * 1 by default: on 2 cores the spinning pool thread took a third of a core from HTTP and
   * PostgreSQL work (feeds/s at 64 users 53–60 → 68–73 with 1). On a machine with cores to
   * spare, measure before raising it.
   */
  readonly intraOpThreads: number;
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  readonly maxQueueRows: number;
  readonly defaultTimeoutMs: number;
  readonly maxBodyBytes: number;
}

export interface ScoringConfig {
  /** Inference workers the API calls; empty = score in this process (the embedded default). */
  readonly workerUrls: readonly string[];
  /** Likes and dislikes of the user's history given to the model (each). */
  readonly historyPerKind: number;
  readonly timeoutMs: number;
  readonly retries: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function postgresUrl(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name}: expected a postgres:// URL, got "${redact(raw)}"`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`${name}: expected a postgres:// URL, got protocol "${url.protocol}"`);
  }
  return raw;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name}: expected true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!values.includes(raw as T)) throw new ConfigError(`${name}: expected one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

function httpUrl(name: string, raw: string): string {
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return raw.replace(/\/+$/, '');
  } catch {
    // fall through to the error below
  }
  throw new ConfigError(`${name}: expected comma-separated http(s) URLs, got "${raw}"`);
}

/** Five cron fields (minute hour day month weekday), as pg-boss schedules them. */
function cron(env: Env, name: string, fallback: string): string {
  const raw = (env[name] ?? '').trim();
  if (raw === '') return fallback;
  const fields = raw.split(/\s+/);
  if (fields.length !== 5 || !fields.every((f) => /^[\d*,/-]+$/.test(f))) {
    throw new ConfigError(`${name}: expected five cron fields such as "0 3 * * *" (minute hour day month weekday, UTC), got "${raw}"`);
  }
  return fields.join(' ');
}

/** The model store that ships in the repository (models/preference/1 is the default model). */
export const DEFAULT_MODEL_STORE = new URL('../models/', import.meta.url).pathname;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Hides the password of a connection string before it goes into a message or a log. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

export function loadConfig(env: Env = process.env): Config {
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const databaseUrl = postgresUrl(env, 'DATABASE_URL');
  const minK = integer(env, 'TASTE_GROUPS_MIN_K', 2, 1, 50);
  const maxK = integer(env, 'TASTE_GROUPS_MAX_K', 12, 1, 50);
  if (minK > maxK) throw new ConfigError(`TASTE_GROUPS_MIN_K: expected at most TASTE_GROUPS_MAX_K (${maxK}), got ${minK}`);
  return Object.freeze({
    port: integer(env, 'PORT', 4000, 0, 65535),
    jobsPort: integer(env, 'JOBS_PORT', 4100, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl,
    databaseAdminUrl: postgresUrl(env, 'DATABASE_ADMIN_URL') ?? databaseUrl,
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 200),
    appDbPassword: env.APP_DB_PASSWORD || undefined,
    embeddedDataDir: env.EMBEDDED_DATA_DIR || '.data/pglite',
    logLevel,
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 16 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    maxQueryDepth: integer(env, 'MAX_QUERY_DEPTH', 10, 2, 100),
    maxQueryCost: integer(env, 'MAX_QUERY_COST', 50_000, 10, 10_000_000),
    documentLimits: Object.freeze({
      maxBytes: integer(env, 'MAX_QUERY_BYTES', 1024 * 1024, 1024, 256 * 1024 * 1024),
      maxTokens: integer(env, 'MAX_QUERY_TOKENS', 50_000, 100, 10_000_000),
      maxFields: integer(env, 'MAX_QUERY_FIELDS', 2000, 10, 1_000_000),
      maxAliases: integer(env, 'MAX_QUERY_ALIASES', 100, 0, 1_000_000),
    }),
    embeddedDemo: boolean(env, 'EMBEDDED_DEMO', true),
    trainerPython: env.TRAINER_PYTHON || '/usr/bin/python3',
    worker: Object.freeze({
      port: integer(env, 'WORKER_PORT', 8000, 0, 65535),
      host: env.WORKER_HOST || '127.0.0.1',
      modelStore: env.MODEL_STORE || DEFAULT_MODEL_STORE,
      tenantModelStore: env.TENANT_MODEL_STORE || '.data/models',
      modelCacheBytes: integer(env, 'WORKER_MODEL_CACHE_MB', 1024, 16, 1024 * 1024) * 1024 * 1024,
      pollMs: integer(env, 'MODEL_POLL_MS', 5000, 0, 3_600_000),
      // 2, as models/preference/config.pbtxt tells Triton: the latest and the one before it.
      versionsKept: integer(env, 'MODEL_VERSIONS', 2, 1, 100),
      provider: oneOf(env, 'EXECUTION_PROVIDER', ['cpu', 'cuda'] as const, 'cpu'),
      intraOpThreads: integer(env, 'ORT_INTRA_OP_THREADS', 1, 0, 256),
      maxBatchSize: integer(env, 'MAX_BATCH_SIZE', 64, 1, 4096),
      maxQueueDelayMs: integer(env, 'MAX_QUEUE_DELAY_MS', 0, 0, 1000),
      maxQueueRows: integer(env, 'MAX_QUEUE_ROWS', 2048, 1, 1_000_000),
      defaultTimeoutMs: integer(env, 'WORKER_TIMEOUT_MS', 2000, 1, 600_000),
      maxBodyBytes: integer(env, 'WORKER_MAX_BODY_BYTES', 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    }),
    feed: Object.freeze({
      poolSize: integer(env, 'FEED_POOL_SIZE', 500, 1, 500),
      nearShare: integer(env, 'FEED_NEAR_PERCENT', 50, 0, 100) / 100,
      indexBudgetBytes: integer(env, 'FEED_INDEX_MAX_MB', 1024, 1, 1024 * 1024) * 1024 * 1024,
      scanSliceFloats: integer(env, 'FEED_SCAN_SLICE_FLOATS', 4_194_304, 0, 2 ** 31),
      partitionFloats: integer(env, 'FEED_INDEX_PARTITION_FLOATS', 134_217_728, 0, 2 ** 40),
      probeShare: integer(env, 'FEED_INDEX_PROBE_PERCENT', 10, 1, 100) / 100,
      subscriptionsPerConnection: integer(env, 'SUBSCRIPTIONS_PER_CONNECTION', 20, 1, 10_000),
      subscriptionsPerTenant: integer(env, 'SUBSCRIPTIONS_PER_TENANT', 10_000, 1, 1_000_000),
      subscriptionsPerKey: integer(env, 'SUBSCRIPTIONS_PER_KEY', 2000, 1, 1_000_000),
      socketsPerKey: integer(env, 'SOCKETS_PER_KEY', 200, 1, 1_000_000),
      coalesceMs: integer(env, 'FEED_COALESCE_MS', 25, 0, 10_000),
      maxBufferedBytes: integer(env, 'SUBSCRIPTION_MAX_BUFFERED_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    }),
    rateLimits: Object.freeze({
      perKey: Object.freeze({
        perSecond: integer(env, 'RATE_LIMIT_KEY_PER_SECOND', 200, 0, 1_000_000),
        burst: integer(env, 'RATE_LIMIT_KEY_BURST', 400, 1, 10_000_000),
      }),
      perTenant: Object.freeze({
        perSecond: integer(env, 'RATE_LIMIT_TENANT_PER_SECOND', 500, 0, 1_000_000),
        burst: integer(env, 'RATE_LIMIT_TENANT_BURST', 1000, 1, 10_000_000),
      }),
      gate: Object.freeze({ maxInFlight: integer(env, 'TENANT_MAX_IN_FLIGHT', 4, 0, 10_000), maxQueued: integer(env, 'TENANT_MAX_QUEUED', 512, 0, 1_000_000) }),
      // 250 ms: a report is one NOTIFY per instance that admitted something in that time, and
      // what instances let through before reports arrive is about the rate times this delay.
      shareMs: integer(env, 'RATE_LIMIT_SHARE_MS', 250, 0, 60_000),
    }),
    training: Object.freeze({
      cron: cron(env, 'TRAINING_CRON', '0 3 * * *'),
      inProcess: env.JOBS_IN_PROCESS === undefined || env.JOBS_IN_PROCESS === '' ? undefined : boolean(env, 'JOBS_IN_PROCESS', false),
      // 20: the accuracy benches' schedule. A first model of 8 epochs scored 0.35 pairwise and
      // 1.46 top-1 below it on the 64,000-user world and 0.94 pairwise on MovieLens, level on the
      // default world (docs/preference-model.md, session 38).
      epochs: integer(env, 'TRAINING_EPOCHS', 20, 1, 1000),
      fineTuneEpochs: integer(env, 'TRAINING_FINE_TUNE_EPOCHS', 3, 1, 1000),
      maxEpisodesPerEpoch: integer(env, 'TRAINING_MAX_EPISODES', 30_000, 100, 100_000_000),
      // The announcements carry every change within milliseconds; this only bounds the delay of
      // one that was lost, and costs a read per subscription.
      followPollMs: integer(env, 'TRAINING_FOLLOW_POLL_MS', 15_000, 100, 600_000),
      // 0: the scoring network draws its natural 8 episodes a user, which served MovieLens 1.52
      // pairwise better than 9,600 an epoch did (docs/preference-model.md, sessions 38 and 42).
      minEpisodesPerEpoch: integer(env, 'TRAINING_MIN_EPISODES', 0, 0, 100_000_000),
      // 9,600 x 20 epochs: the 192,000 episodes a small tenant drew at 8 x 24,000, which its
      // preference tokens need to form (taste groups, docs/taste-groups.md); without them the
      // six-group world grouped with ARI 0.67. A small tenant's taste-group network draws them.
      groupEpisodesPerEpoch: integer(env, 'TRAINING_GROUP_EPISODES', 9_600, 0, 100_000_000),
      // 16 x 9,600 on top of the scoring network's 20 epochs of natural episodes: 8 (session 44)
      // left some draws' groups unformed, and a 240-user tenant's mostly (session 54,
      // docs/taste-groups.md).
      groupEpochs: integer(env, 'TRAINING_GROUP_EPOCHS', 16, 1, 1000),
      groupsFrom: oneOf(env, 'TRAINING_GROUPS_FROM', ['classes', 'network'] as const, 'classes'),
      minUsers: integer(env, 'TRAINING_MIN_USERS', 50, 2, 10_000_000),
      minHeldOutUsers: integer(env, 'TRAINING_MIN_HELDOUT_USERS', 20, 2, 10_000_000),
      heldOutPercent: integer(env, 'TRAINING_HOLDOUT_PERCENT', 20, 1, 50),
      staleSeconds: integer(env, 'TRAINING_STALE_SECONDS', 120, 5, 86_400),
      retries: integer(env, 'TRAINING_RETRIES', 2, 0, 10),
      timeoutMinutes: integer(env, 'TRAINING_TIMEOUT_MINUTES', 120, 1, 24 * 60),
      workDir: env.TRAINING_WORK_DIR || '.data/training',
      // 5: a rollback by hand reaches a week of nightly versions back (the serving one and the
      // one before it are always kept) at a few MB each, where every version stayed for ever.
      keepVersions: integer(env, 'TRAINING_KEEP_VERSIONS', 5, 0, 100_000),
      trainerArgs: Object.freeze((env.TRAINING_TRAINER_ARGS ?? '').split(/\s+/).filter(Boolean)),
    }),
    tasteGroups: Object.freeze({
      cron: cron(env, 'TASTE_GROUPS_CRON', '30 * * * *'),
      historyPerKind: integer(env, 'EMBEDDING_HISTORY_PER_KIND', 32, 1, 256),
      minPerKind: integer(env, 'TASTE_GROUPS_MIN_PER_KIND', 2, 1, 64),
      minK,
      maxK,
      silhouetteSample: integer(env, 'TASTE_GROUPS_SILHOUETTE_SAMPLE', 3000, 100, 100_000),
      keepSnapshots: integer(env, 'TASTE_GROUPS_KEEP_SNAPSHOTS', 5, 1, 1000),
      batchSize: integer(env, 'EMBEDDING_BATCH_SIZE', 64, 1, 4096),
    }),
    scoring: Object.freeze({
      workerUrls: Object.freeze(
        (env.WORKER_URLS ?? '')
          .split(',')
          .map((u) => u.trim())
          .filter(Boolean)
          .map((u) => httpUrl('WORKER_URLS', u)),
      ),
      // 16 from issue 14's measurement (docs/preference-model.md, "How much history to read"):
      // as accurate as 8 on MovieLens, better where tastes stay put, for 12-18% more model time.
      historyPerKind: integer(env, 'HISTORY_PER_KIND', 16, 1, 64),
      timeoutMs: integer(env, 'SCORING_TIMEOUT_MS', 1000, 1, 60_000),
      retries: integer(env, 'SCORING_RETRIES', 2, 0, 10),
    }),
  });
}
