// npm run bench:training [-- --users 10000 --small-users 2000 --items 20000 --dim 512 --per-user 50 --repeats 3 --fine-tune]
// A tenant's training run as deployed: a generated tenant (10,000 users, 20,000 items of
// dimension 512, 500,000 likes and dislikes) on the PostgreSQL server, two inference workers,
// an API process and `npm run jobs`, all real processes.
//  1. the export alone, in a process of its own, for a tenant of 100,000 and one of 500,000
//     interactions: seconds and the process's peak RSS (repeated; medians);
//  2. one run end to end through startTraining: the seconds of each stage from the run's own
//     timings, job start to promotion from the registry's timestamps, and from promotion to
//     every worker holding the version and a live feed receiving MODEL;
//  3. with --fine-tune, a second run after more likes: the nightly fine-tune from the promoted
//     checkpoint (warm start).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createTenant } from '../src/services/tenant-admin.service.js';
import { generateTasteWorld } from '../src/synth/taste-world.js';
import { tenantModelName } from '../src/inference/model-names.js';
import { startProcess, type StartedProcess } from '../test/helpers/processes.js';
import { createScratchDatabase, loadWorld, SERVER_OPTION } from './processes.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    'small-users': { type: 'string', default: '2000' },
    items: { type: 'string', default: '20000' },
    dim: { type: 'string', default: '512' },
    'per-user': { type: 'string', default: '50' },
    repeats: { type: 'string', default: '3' },
    'fine-tune': { type: 'boolean', default: false },
    'skip-run': { type: 'boolean', default: false },
    server: SERVER_OPTION,
  },
});
const USERS = Number(values.users);
const SMALL_USERS = Number(values['small-users']);
const ITEMS = Number(values.items);
const DIM = Number(values.dim);
const PER_USER = Number(values['per-user']);
const REPEATS = Number(values.repeats);
const run = promisify(execFile);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const log = (...a: unknown[]) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

async function exportOnce(appUrl: string, tenantId: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tg-bench-export-'));
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/training-export.ts', appUrl, tenantId, dir], { maxBuffer: 1 << 20 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as { seconds: number; peakRssMb: number; startRssMb: number; stats: { interactions: number } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const scratch = await createScratchDatabase(values.server, 'training');
  const children: StartedProcess[] = [];
  const store = mkdtempSync(join(tmpdir(), 'tg-bench-store-'));
  const work = mkdtempSync(join(tmpdir(), 'tg-bench-work-'));
  const rows: string[][] = [];
  try {
    log(`generating and loading: ${SMALL_USERS} and ${USERS} users, ${ITEMS} items of dimension ${DIM}, ${PER_USER} likes and dislikes per user`);
    const small = await createTenant(scratch.adminUrl, { name: 'bench small', slug: 'bench-small', embeddingDim: DIM, keyRoles: ['admin'] });
    const large = await createTenant(scratch.adminUrl, { name: 'bench large', slug: 'bench-large', embeddingDim: DIM, keyRoles: ['admin', 'app'] });
    await loadWorld(
      scratch.adminUrl,
      small.tenant.id,
      generateTasteWorld({ users: SMALL_USERS, items: ITEMS, dim: DIM, interactionsPerUser: PER_USER, groups: 6, seed: 11 }),
    );
    // The large world has 5% more likes per user than it loads now: the rest arrive before the fine-tune.
    const world = generateTasteWorld({ users: USERS, items: ITEMS, dim: DIM, interactionsPerUser: Math.round(PER_USER * 1.05), groups: 6, seed: 12 });
    const firstPart = world.interactions.filter((_, i) => i % 21 !== 20);
    const laterPart = world.interactions.filter((_, i) => i % 21 === 20);
    await loadWorld(scratch.adminUrl, large.tenant.id, { ...world, interactions: firstPart });

    // ------------------------------------------------------------------ 1. the export alone
    for (const [label, tenant] of [
      ['small', small],
      ['large', large],
    ] as const) {
      const results = [];
      for (let r = 0; r < REPEATS; r++) results.push(await exportOnce(scratch.appUrl, tenant.tenant.id));
      const n = results[0].stats.interactions;
      log(`export ${label}: ${results.map((x) => `${x.seconds.toFixed(1)} s / ${x.peakRssMb.toFixed(0)} MB`).join(', ')}`);
      rows.push([
        `export, ${n.toLocaleString('en-US')} interactions`,
        `${median(results.map((x) => x.seconds)).toFixed(1)} s`,
        `peak RSS ${median(results.map((x) => x.peakRssMb)).toFixed(0)} MB (${results.map((x) => x.peakRssMb.toFixed(0)).join(', ')}; ${median(results.map((x) => x.startRssMb)).toFixed(0)} MB before it began)`,
      ]);
    }
    if (values['skip-run']) return;

    // --------------------------------------------------------- 2. a run end to end, as deployed
    const common = { DATABASE_URL: scratch.appUrl, TENANT_MODEL_STORE: store, LOG_LEVEL: 'warn' };
    const workers = await Promise.all([startProcess('worker', common), startProcess('worker', common)]);
    children.push(...workers);
    const workerUrls = workers.map((w) => w.url).join(',');
    const api = await startProcess('api', { ...common, WORKER_URLS: workerUrls, NODE_ENV: 'production' });
    children.push(api);
    const jobs = await startProcess('jobs', { ...common, WORKER_URLS: workerUrls, TRAINING_WORK_DIR: work, LOG_LEVEL: 'info' }, { timeoutMs: 120_000 });
    children.push(jobs);
    const admin = large.keys.find((k) => k.role === 'admin')!.key;
    const app = large.keys.find((k) => k.role === 'app')!.key;
    const gql = async (query: string, variables: object = {}) => {
      const r = await fetch(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = await r.json();
      if (body.errors) throw new Error(JSON.stringify(body.errors).slice(0, 400));
      return body.data;
    };
    // A live feed of one of the tenant's users: when does MODEL arrive?
    const ws = createClient({
      url: api.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${app}` },
    });
    const pushes: { reason: string; at: number; modelVersion: string | null }[] = [];
    ws.subscribe<{ feedUpdated: { reason: string; feed: { modelVersion: string | null } } }>(
      { query: 'subscription { feedUpdated(userId: "user-1", first: 10) { reason feed { modelVersion } } }' },
      {
        next: (m) => m.data && pushes.push({ reason: m.data.feedUpdated.reason, at: Date.now(), modelVersion: m.data.feedUpdated.feed.modelVersion }),
        error: (e) => log('subscription error', e),
        complete: () => {},
      },
    );

    const runOnce = async (label: string) => {
      const { startTraining } = await gql('mutation { startTraining { id } }');
      let last = '';
      for (;;) {
        const { trainingRun: r } = await gql(
          `query($id: ID!) { trainingRun(id: $id) { status stage epoch epochs loss validationAccuracy error skipReason startedAt finishedAt
            timings { exporting training evaluating promoting } modelVersion { version status reason promotedAt evaluation { candidate { pairwise } serving { pairwise } globalBaseline { pairwise } centroidBaseline { pairwise } } } } }`,
          { id: startTraining.id },
        );
        const now = `${r.status} ${r.stage ?? ''} ${r.epoch ?? ''}/${r.epochs ?? ''} ${r.validationAccuracy?.toFixed?.(1) ?? ''}`;
        if (now !== last) log(`${label}: ${now}`);
        last = now;
        if (['SUCCEEDED', 'FAILED', 'SKIPPED'].includes(r.status)) return r;
        await new Promise((res) => setTimeout(res, 1000));
      }
    };

    const report = async (label: string, r: any) => {
      if (r.status !== 'SUCCEEDED' || r.modelVersion?.status !== 'PROMOTED') {
        rows.push([`${label}: NOT PROMOTED`, r.status, r.error ?? r.skipReason ?? r.modelVersion?.reason ?? '']);
        return;
      }
      const promotedAt = Date.parse(r.modelVersion.promotedAt);
      const version = String(r.modelVersion.version);
      const pushed = await (async () => {
        for (let i = 0; i < 100; i++) {
          const p = pushes.find((x) => x.reason === 'MODEL' && x.modelVersion === version);
          if (p) return p.at;
          await new Promise((res) => setTimeout(res, 100));
        }
        return undefined;
      })();
      const ready = await Promise.all(
        workers.map(async (w) => (await fetch(`${w.url}/v2/models/${tenantModelName(large.tenant.id)}/versions/${version}/ready`)).status === 200),
      );
      const t = r.timings;
      const e = r.modelVersion.evaluation;
      rows.push([`${label}: export (in the run)`, `${t.exporting.toFixed(1)} s`, '']);
      rows.push([
        `${label}: ${label.startsWith('fine') ? 'fine-tune' : 'training'} (${r.epochs} epochs)`,
        `${t.training.toFixed(1)} s`,
        `validation pairwise ${r.validationAccuracy?.toFixed(1)}`,
      ]);
      rows.push([
        `${label}: evaluation`,
        `${t.evaluating.toFixed(1)} s`,
        `held-out pairwise: candidate ${e.candidate.pairwise.toFixed(1)}, serving ${e.serving?.pairwise?.toFixed(1) ?? '-'}, global ${e.globalBaseline.pairwise.toFixed(1)}, centroid ${e.centroidBaseline.pairwise.toFixed(1)}`,
      ]);
      rows.push([
        `${label}: promotion (every worker loads, then the registry)`,
        `${t.promoting.toFixed(1)} s`,
        `version ${version} loaded on ${ready.filter(Boolean).length} of ${workers.length} workers`,
      ]);
      rows.push([
        `${label}: job start → promotion`,
        `${((promotedAt - Date.parse(r.startedAt)) / 1000).toFixed(1)} s`,
        `(${((promotedAt - Date.parse(r.startedAt)) / 60_000).toFixed(1)} min)`,
      ]);
      rows.push([
        `${label}: promotion → MODEL pushed to a live feed`,
        pushed ? `${((pushed - promotedAt) / 1000).toFixed(2)} s` : 'none within 10 s',
        `promotion stage + push: ${pushed ? (t.promoting + (pushed - promotedAt) / 1000).toFixed(1) : '-'} s`,
      ]);
    };

    await report('first model', await runOnce('first model'));
    if (values['fine-tune']) {
      log(`adding ${laterPart.length} more likes and dislikes for the fine-tune`);
      await loadWorld(scratch.adminUrl, large.tenant.id, { ...world, interactions: laterPart }, { interactionsOnly: true });
      await report('fine-tune', await runOnce('fine-tune'));
    }
    await ws.dispose();
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => {});
    rmSync(store, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
    await scratch.drop();
    const width = Math.max(...rows.map((r) => r[0].length));
    console.log(
      `\nTraining benchmark: ${USERS.toLocaleString('en-US')} users, ${ITEMS.toLocaleString('en-US')} items of dimension ${DIM}, ${(USERS * PER_USER).toLocaleString('en-US')} interactions; 2 workers, 1 API, npm run jobs, on this machine\n`,
    );
    for (const r of rows) console.log(`${r[0].padEnd(width)}  ${r[1].padStart(9)}  ${r[2]}`);
    console.log(`\ncommand: npm run bench:training -- ${process.argv.slice(2).join(' ')}`.trimEnd());
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
