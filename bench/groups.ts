// npm run bench:groups [-- --users 100000 --items 5000 --per-user 30 --repeats 3 --queries 1000 --quality-groups 6 --skip-quality --skip-scale]
// Similar users and taste groups as deployed (the PostgreSQL server, an API process scoring in
// process with the shipped base model, and `npm run jobs` for the quality part):
//  1. scale: a generated tenant of 100,000 users in 6 taste groups (dimension 32, the base
//     model's). refreshTasteGroups from nothing stored, repeated (the stored representations
//     are deleted before each): seconds computing representations, seconds clustering, the
//     API process's peak RSS; then similarUsers over HTTP for random users, one at a time:
//     p50 and p99.
//  2. quality: the synthetic world of `npm run synth -- --groups 6` as bench:model uses it
//     (1,000 users, 6 groups, 60 likes and dislikes each) as a tenant: startTraining trains its
//     own model as the nightly job does, the promotion groups its users, and the groups are
//     compared with the generator's (adjusted Rand index), for k by silhouette and k = 6.
//     `--quality-groups N` makes it a world of N groups (session 56: 16, more than the 10 latent
//     classes a model had before), the user embedding's width saying how many classes serve.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { adjustedRandIndex } from '../src/clustering/quality.js';
import { createTenant } from '../src/services/tenant-admin.service.js';
import { generateTasteWorld, type TasteWorld } from '../src/synth/taste-world.js';
import { isHeldOut } from '../src/training/split.js';
import { startProcess, type StartedProcess } from '../test/helpers/processes.js';
import { createScratchDatabase, loadWorld, SERVER_OPTION } from './processes.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    items: { type: 'string', default: '5000' },
    'per-user': { type: 'string', default: '30' },
    repeats: { type: 'string', default: '3' },
    queries: { type: 'string', default: '1000' },
    'quality-groups': { type: 'string', default: '6' },
    'skip-quality': { type: 'boolean', default: false },
    'skip-scale': { type: 'boolean', default: false },
    server: SERVER_OPTION,
  },
});
const USERS = Number(values.users);
const REPEATS = Number(values.repeats);
const QUERIES = Number(values.queries);
const GROUPS = 6;
const QUALITY_GROUPS = Number(values['quality-groups']);
if (!(Number.isInteger(QUALITY_GROUPS) && QUALITY_GROUPS >= 2))
  throw new Error(`--quality-groups: expected a whole number of groups of at least 2, got "${values['quality-groups']}"`);
const WORLD = QUALITY_GROUPS === 6 ? 'six groups' : `${QUALITY_GROUPS} groups`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
// The nightly's settings this run changed (the jobs process inherits them): the printed command
// and the training row name them, so a run with TRAINING_TRAINER_ARGS='--seed 1' says so.
const trainingEnv = Object.entries(process.env)
  .filter(([name, value]) => name.startsWith('TRAINING_') && value !== undefined)
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([name, value]) => `${name}=${/^[\w.,:/=+-]*$/.test(value!) ? value : `'${value!.replace(/'/g, `'\\''`)}'`}`);
const log = (...a: unknown[]) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const rssMb = (pid: number, field: 'VmRSS' | 'VmHWM') => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function client(url: string, key: string) {
  return async (query: string, variables: object = {}) => {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await r.json();
    if (body.errors) throw new Error(JSON.stringify(body.errors).slice(0, 400));
    return body.data;
  };
}

/** The latest snapshot's groups against the generator's, over all grouped users and over the held-out ones. */
async function ariOf(adminUrl: string, tenantId: string, world: TasteWorld) {
  const owner = new pg.Client({ connectionString: adminUrl });
  await owner.connect();
  try {
    const { rows } = await owner.query<{ externalId: string; groupId: string }>(
      `SELECT u.external_id AS "externalId", m.group_id AS "groupId" FROM taste_group_members m JOIN users u ON u.id = m.user_id
        WHERE m.snapshot_id = (SELECT id FROM taste_group_snapshots WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 1)`,
      [tenantId],
    );
    const truth = new Map(world.users.map((u) => [u.id, u.group]));
    const held = rows.filter((r) => isHeldOut(r.externalId, 20));
    // The grouped model's representations: two numbers a latent class.
    const widths = await owner.query<{ bytes: number }>(
      `SELECT octet_length(embedding) AS bytes FROM user_embeddings
        WHERE tenant_id = $1 AND model = (SELECT model FROM taste_group_snapshots WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 1) LIMIT 1`,
      [tenantId],
    );
    return {
      all: adjustedRandIndex(
        rows.map((r) => r.groupId),
        rows.map((r) => truth.get(r.externalId)!),
      ),
      heldOut: adjustedRandIndex(
        held.map((r) => r.groupId),
        held.map((r) => truth.get(r.externalId)!),
      ),
      users: rows.length,
      heldOutUsers: held.length,
      embeddingDim: (widths.rows[0]?.bytes ?? 0) / 4,
    };
  } finally {
    await owner.end();
  }
}

async function main() {
  const scratch = await createScratchDatabase(values.server, 'groups');
  const children: StartedProcess[] = [];
  const rows: string[][] = [];
  const SNAPSHOT = 'k kChosenBy users silhouette silhouetteSample daviesBouldin calinskiHarabasz stability embeddingSeconds clusteringSeconds model';
  try {
    const common = { DATABASE_URL: scratch.appUrl, TENANT_MODEL_STORE: mkdtempSync(join(tmpdir(), 'tg-bench-store-')), LOG_LEVEL: 'warn' };
    // ------------------------------------------------------------------------------ 1. scale
    if (!values['skip-scale']) {
      log(`generating and loading ${USERS} users in ${GROUPS} groups, ${values.items} items of dimension 32, ${values['per-user']} likes and dislikes each`);
      const large = await createTenant(scratch.adminUrl, { name: 'bench groups', slug: 'bench-groups', embeddingDim: 32, keyRoles: ['admin'] });
      const world = generateTasteWorld({
        users: USERS,
        items: Number(values.items),
        dim: 32,
        interactionsPerUser: Number(values['per-user']),
        groups: GROUPS,
        seed: 21,
      });
      await loadWorld(scratch.adminUrl, large.tenant.id, world);
      const api = await startProcess('api', { ...common, NODE_ENV: 'production', JOBS_IN_PROCESS: 'false' });
      children.push(api);
      const gql = client(api.url, large.keys[0].key);
      const owner = new pg.Client({ connectionString: scratch.adminUrl });
      await owner.connect();
      const runs: {
        embeddingSeconds: number;
        clusteringSeconds: number;
        wall: number;
        hwm: number;
        rss: number;
        k: number;
        silhouette: number;
        silhouetteSample: number;
        daviesBouldin: number;
        calinskiHarabasz: number;
        stability: number | null;
      }[] = [];
      for (let r = 0; r < REPEATS; r++) {
        await owner.query('DELETE FROM user_embeddings WHERE tenant_id = $1', [large.tenant.id]);
        const started = Date.now();
        const { refreshTasteGroups: s } = await gql(`mutation { refreshTasteGroups { ${SNAPSHOT} } }`);
        runs.push({ ...s, wall: (Date.now() - started) / 1000, hwm: rssMb(api.child.pid!, 'VmHWM'), rss: rssMb(api.child.pid!, 'VmRSS') });
        log(
          `refresh ${r + 1}: representations ${s.embeddingSeconds.toFixed(1)} s, clustering ${s.clusteringSeconds.toFixed(1)} s, wall ${runs[r].wall.toFixed(1)} s, k ${s.k}, peak RSS ${runs[r].hwm.toFixed(0)} MB`,
        );
      }
      await owner.end();
      const last = runs[runs.length - 1];
      const ari = await ariOf(scratch.adminUrl, large.tenant.id, world);
      const each = (f: (x: (typeof runs)[number]) => number, digits = 1) => runs.map((x) => f(x).toFixed(digits)).join(', ');
      rows.push([
        `representations of ${USERS.toLocaleString('en-US')} users (base model, ${values['per-user']} likes and dislikes each)`,
        `${median(runs.map((x) => x.embeddingSeconds)).toFixed(1)} s`,
        `runs: ${each((x) => x.embeddingSeconds)} s`,
      ]);
      rows.push([
        `clustering (k by silhouette over 2-12 on a ${last.silhouetteSample.toLocaleString('en-US')}-user sample, then k-means++ of all)`,
        `${median(runs.map((x) => x.clusteringSeconds)).toFixed(1)} s`,
        `runs: ${each((x) => x.clusteringSeconds)} s; k ${last.k}`,
      ]);
      rows.push([
        'refreshTasteGroups end to end (HTTP; includes storing the snapshot)',
        `${median(runs.map((x) => x.wall)).toFixed(1)} s`,
        `runs: ${each((x) => x.wall)} s`,
      ]);
      rows.push([
        'API process peak RSS (VmHWM) after the refreshes',
        `${Math.max(...runs.map((x) => x.hwm)).toFixed(0)} MB`,
        `RSS after: ${each((x) => x.rss, 0)} MB`,
      ]);
      rows.push([
        'snapshot figures',
        `silhouette ${last.silhouette.toFixed(3)}`,
        `Davies-Bouldin ${last.daviesBouldin.toFixed(3)}, Calinski-Harabasz ${last.calinskiHarabasz.toFixed(0)}, stability ${last.stability?.toFixed(3) ?? '-'}`,
      ]);
      rows.push([
        `ARI against the generator's ${GROUPS} groups (the base model was trained on a world of 4)`,
        ari.all.toFixed(3),
        `${ari.users.toLocaleString('en-US')} users`,
      ]);

      // similarUsers for random users, one at a time, after a warm-up that loads the index.
      const ids = world.users.map((u) => u.id);
      const pick = (i: number) => ids[(i * 7919) % ids.length];
      for (let i = 0; i < 20; i++) await gql('query($u: ID!) { similarUsers(userId: $u, first: 20) { model } }', { u: pick(i) });
      const latencies: number[] = [];
      const SIMILAR =
        'query($u: ID!) { similarUsers(userId: $u, first: 20) { edges { node { similarity user { externalId } sharedLikes { count items { externalId } } } } } }';
      for (let i = 0; i < QUERIES; i++) {
        const started = performance.now();
        await gql(SIMILAR, { u: pick(i + 100) });
        latencies.push(performance.now() - started);
      }
      rows.push([
        `similarUsers(first: 20) with shared likes, over HTTP, ${QUERIES} random users one at a time`,
        `p50 ${quantile(latencies, 0.5).toFixed(1)} ms`,
        `p99 ${quantile(latencies, 0.99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
      ]);
      api.child.kill('SIGTERM');
    }

    // ---------------------------------------------------------------------------- 2. quality
    if (!values['skip-quality']) {
      log(`quality: the synthetic world of bench:model (1,000 users, ${QUALITY_GROUPS} groups) trained and grouped as a tenant`);
      const small = await createTenant(scratch.adminUrl, { name: `bench ${WORLD}`, slug: 'bench-quality', embeddingDim: 32, keyRoles: ['admin'] });
      const qualityWorld = generateTasteWorld({
        users: 1000,
        groups: QUALITY_GROUPS,
        items: 2000,
        styles: 16,
        interactionsPerUser: 60,
        pairShare: 0.3,
        seed: 1,
      });
      await loadWorld(scratch.adminUrl, small.tenant.id, qualityWorld);
      const work = mkdtempSync(join(tmpdir(), 'tg-bench-work-'));
      const api2 = await startProcess('api', { ...common, NODE_ENV: 'production', JOBS_IN_PROCESS: 'false' });
      children.push(api2);
      const jobs = await startProcess('jobs', { ...common, TRAINING_WORK_DIR: work, LOG_LEVEL: 'warn' }, { timeoutMs: 120_000 });
      children.push(jobs);
      const q = client(api2.url, small.keys[0].key);
      const { startTraining } = await q('mutation { startTraining { id } }');
      const trainedAt = Date.now();
      let snapshot;
      for (;;) {
        const r = await q(
          `query($id: ID!) { trainingRun(id: $id) { status error skipReason epochs validationAccuracy modelVersion { version status evaluation { candidate { pairwise } globalBaseline { pairwise } } } } tasteGroups { trigger kTried { k silhouette } ${SNAPSHOT} } }`,
          { id: startTraining.id },
        );
        if (['FAILED', 'SKIPPED'].includes(r.trainingRun.status))
          throw new Error(`training ${r.trainingRun.status}: ${r.trainingRun.error ?? r.trainingRun.skipReason}`);
        if (r.trainingRun.status === 'SUCCEEDED' && r.trainingRun.modelVersion?.status !== 'PROMOTED')
          throw new Error(`not promoted: ${JSON.stringify(r.trainingRun.modelVersion)}`);
        if (r.tasteGroups?.trigger === 'PROMOTION') {
          snapshot = { ...r.tasteGroups, run: r.trainingRun };
          break;
        }
        await new Promise((res) => setTimeout(res, 2000));
      }
      const e = snapshot.run.modelVersion.evaluation;
      rows.push([
        `${WORLD}: training and promotion (the nightly job, ${trainingEnv.length ? trainingEnv.join(' ') : 'its defaults'})`,
        `${((Date.now() - trainedAt) / 60_000).toFixed(1)} min`,
        `${snapshot.run.epochs} epochs; held-out pairwise ${e.candidate.pairwise.toFixed(1)} against the global baseline's ${e.globalBaseline.pairwise.toFixed(1)}`,
      ]);
      const chosen = await ariOf(scratch.adminUrl, small.tenant.id, qualityWorld);
      rows.push([
        `${WORLD}: after the promotion, k by silhouette (${snapshot.k}; tried ${snapshot.kTried.map((t: { k: number; silhouette: number }) => `${t.k}: ${t.silhouette.toFixed(3)}`).join(', ')})`,
        `ARI ${chosen.all.toFixed(3)}`,
        `held-out users only: ${chosen.heldOut.toFixed(3)} (${chosen.heldOutUsers}); silhouette ${snapshot.silhouette.toFixed(3)}, Davies-Bouldin ${snapshot.daviesBouldin.toFixed(3)}, Calinski-Harabasz ${snapshot.calinskiHarabasz.toFixed(0)}; user embedding ${chosen.embeddingDim} numbers (${chosen.embeddingDim / 2} latent classes)`,
      ]);
      const { refreshTasteGroups: fixed } = await q(`mutation { refreshTasteGroups(k: ${QUALITY_GROUPS}) { ${SNAPSHOT} } }`);
      const atTrueK = await ariOf(scratch.adminUrl, small.tenant.id, qualityWorld);
      rows.push([
        `${WORLD}: k = ${QUALITY_GROUPS} (refreshTasteGroups(k: ${QUALITY_GROUPS}))`,
        `ARI ${atTrueK.all.toFixed(3)}`,
        `held-out users only: ${atTrueK.heldOut.toFixed(3)}; silhouette ${fixed.silhouette.toFixed(3)}, Davies-Bouldin ${fixed.daviesBouldin.toFixed(3)}`,
      ]);
    }
  } finally {
    for (const c of children) c.child.kill('SIGTERM');
    await scratch.drop().catch(() => {});
  }
  console.log('\n| measure | value | detail |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(
    `\ncommand: ${trainingEnv.map((e) => `${e} `).join('')}npm run bench:groups -- --users ${USERS} --items ${values.items} --per-user ${values['per-user']} --repeats ${REPEATS} --queries ${QUERIES}${QUALITY_GROUPS === 6 ? '' : ` --quality-groups ${QUALITY_GROUPS}`}${values['skip-quality'] ? ' --skip-quality' : ''}${values['skip-scale'] ? ' --skip-scale' : ''}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
