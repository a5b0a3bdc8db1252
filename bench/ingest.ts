// npm run bench:ingest [-- --runs 3 --total 40000]
// Interactions per second through recordInteractions (a separate API process, 8 concurrent
// HTTP clients, batches of 100 and 1,000, new and repeated users), next to the same rows
// inserted straight through pg by 8 connections in the same run: the ceiling.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { migrate } from '../src/repositories/migrator.js';
import { createTenant } from '../src/services/tenant-admin.service.js';
import { databaseUrl, runOnServer, startApiProcess, SERVER_OPTION } from './processes.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    total: { type: 'string', default: '40000' },
    clients: { type: 'string', default: '8' },
    server: SERVER_OPTION,
  },
});
const RUNS = Number(values.runs);
const TOTAL = Number(values.total);
const CLIENTS = Number(values.clients);
const DIM = 32;
const ITEMS = 5000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Event {
  userId: string;
  itemId: string;
  kind: 'LIKE' | 'DISLIKE';
  eventId: string;
}

/** The batches of one scenario: new users appear once each; repeated users come back in every batch. */
function makeBatches(tag: string, batch: number, newUsers: boolean): Event[][] {
  const batches: Event[][] = [];
  for (let b = 0; b < TOTAL / batch; b++) {
    batches.push(
      Array.from({ length: batch }, (_, i) => {
        const n = b * batch + i;
        return {
          userId: newUsers ? `${tag}-u${Math.floor(n / 10)}` : `${tag}-u${n % 200}`,
          itemId: `item-${(n * 7919) % ITEMS}`,
          kind: n % 3 ? 'LIKE' : 'DISLIKE',
          eventId: `${tag}-e${n}`,
        };
      }),
    );
  }
  return batches;
}

/** Runs the batches through `send` with CLIENTS concurrent senders; returns interactions/s and batch latencies. */
async function drive(batches: Event[][], send: (events: Event[]) => Promise<void>) {
  let next = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < batches.length) {
        const events = batches[next++];
        const t = performance.now();
        await send(events);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { rate: (batches.length * batches[0].length) / seconds, p50: median(latencies) };
}

const MUTATION = 'mutation($events: [InteractionInput!]!) { recordInteractions(events: $events) { count } }';

async function main() {
  const database = `tg_bench_${randomBytes(4).toString('hex')}`;
  await runOnServer(values.server, `CREATE DATABASE ${database}`);
  const adminUrl = databaseUrl(values.server, database);
  const appUrl = databaseUrl(values.server, database, 'tastegraph_app');
  let api: ChildProcess | undefined;
  const owner = new pg.Pool({ connectionString: adminUrl, max: CLIENTS });
  try {
    await migrate(adminUrl);
    const { tenant, keys } = await createTenant(adminUrl, { name: 'bench', slug: 'bench', embeddingDim: DIM, keyRoles: ['app'] });
    await owner.query(
      `INSERT INTO items (tenant_id, external_id, embedding)
       SELECT $1, 'item-' || g, decode(repeat('00', ${DIM * 4}), 'hex') FROM generate_series(0, ${ITEMS - 1}) g`,
      [tenant.id],
    );
    const started = await startApiProcess({ DATABASE_URL: appUrl, DATABASE_ADMIN_URL: adminUrl, DATABASE_POOL_SIZE: '10' });
    api = started.child;

    const viaGraphql = async (events: Event[]) => {
      const response = await fetch(started.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${keys[0].key}` },
        body: JSON.stringify({ query: MUTATION, variables: { events } }),
      });
      const body = await response.json();
      if (body.errors) throw new Error(JSON.stringify(body.errors).slice(0, 500));
    };
    // The ceiling: the same rows, straight through pg, as the owner (no RLS, no GraphQL, no
    // validation): create the users, insert the interactions by joining external ids, and set
    // each pair's state (the latest event), as recordInteractions does.
    const viaPg = async (events: Event[]) => {
      const client = await owner.connect();
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO users (tenant_id, external_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, [
          tenant.id,
          [...new Set(events.map((e) => e.userId))],
        ]);
        await client.query(
          `WITH stored AS (
             INSERT INTO interactions (tenant_id, user_id, item_id, kind, event_id)
             SELECT $1, u.id, i.id, t.k, t.e FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) t(ue, ie, k, e)
               JOIN users u ON u.tenant_id = $1 AND u.external_id = t.ue
               JOIN items i ON i.tenant_id = $1 AND i.external_id = t.ie
             RETURNING id, user_id, item_id, kind)
           INSERT INTO interaction_states AS s (tenant_id, user_id, item_id, kind, interaction_id)
           SELECT DISTINCT ON (user_id, item_id) $1::uuid, user_id, item_id, kind, id FROM stored ORDER BY user_id, item_id, id DESC
           ON CONFLICT (tenant_id, user_id, item_id) DO UPDATE SET kind = EXCLUDED.kind, interaction_id = EXCLUDED.interaction_id
            WHERE s.interaction_id < EXCLUDED.interaction_id`,
          [tenant.id, events.map((e) => e.userId), events.map((e) => e.itemId), events.map((e) => e.kind), events.map((e) => e.eventId)],
        );
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    };

    const rows: string[][] = [];
    for (const batch of [100, 1000]) {
      for (const newUsers of [true, false]) {
        const graphql: { rate: number; p50: number }[] = [];
        const ceiling: { rate: number; p50: number }[] = [];
        for (let run = 0; run < RUNS; run++) {
          // Alternate which goes first so that neither always meets a warmer or fuller table.
          const tag = `b${batch}${newUsers ? 'n' : 'r'}${run}`;
          const order = run % 2 ? ['pg', 'gql'] : ['gql', 'pg'];
          for (const which of order) {
            if (which === 'gql') graphql.push(await drive(makeBatches(`${tag}g`, batch, newUsers), viaGraphql));
            else ceiling.push(await drive(makeBatches(`${tag}p`, batch, newUsers), viaPg));
          }
        }
        const g = median(graphql.map((r) => r.rate));
        const p = median(ceiling.map((r) => r.rate));
        rows.push([
          String(batch),
          newUsers ? 'new' : 'repeated',
          Math.round(g).toLocaleString('en-US'),
          Math.round(p).toLocaleString('en-US'),
          `${((100 * g) / p).toFixed(0)}%`,
          median(graphql.map((r) => r.p50)).toFixed(0),
          median(ceiling.map((r) => r.p50)).toFixed(0),
        ]);
        process.stderr.write(`done: batch ${batch}, ${newUsers ? 'new' : 'repeated'} users\n`);
      }
    }

    const header = ['batch', 'users', 'GraphQL int/s', 'pg ceiling int/s', 'GraphQL / ceiling', 'GraphQL p50 ms/batch', 'pg p50 ms/batch'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i])).join(' | ')} |`;
    console.log(
      `\nIngest benchmark: ${TOTAL.toLocaleString('en-US')} interactions per scenario and run, ${CLIENTS} concurrent clients, median of ${RUNS} runs`,
    );
    console.log(
      `machine: ${cpus().length} x ${cpus()[0].model}; PostgreSQL at ${new URL(values.server).host}; API in a separate Node process (NODE_ENV=production)\n`,
    );
    console.log(line(header));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows) console.log(line(r));
    console.log(`\ncommand: npm run bench:ingest -- --runs ${RUNS} --total ${TOTAL} --clients ${CLIENTS}`);
  } finally {
    api?.kill('SIGTERM');
    await owner.end();
    await new Promise((r) => setTimeout(r, 300));
    await runOnServer(values.server, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
