// npm run bench:refresh-fairness [-- --users 20000 --per-user 30]
// What an admin's refreshTasteGroups of a large tenant costs another tenant on the same API
// instance: a tenant of `users` users (dimension 32, the base model scores them) is grouped from
// nothing stored, over HTTP, while a quiet tenant asks for one user's scores over 20 images every
// 20 ms; the quiet tenant's latencies during the refresh, and the slowest answers with when they
// were asked (seconds from the refresh's start).
import { parseArgs } from 'node:util';
import { createTenant } from '../src/services/tenant-admin.service.js';
import { generateTasteWorld } from '../src/synth/taste-world.js';
import { createScratchDatabase, gql, loadWorld, startApiProcess, SERVER_OPTION } from './processes.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '20000' },
    'per-user': { type: 'string', default: '30' },
    server: SERVER_OPTION,
  },
});
const USERS = Number(values.users);
const PER_USER = Number(values['per-user']);
const QUIET_EVERY_MS = 20;
const SCORE = 'query($u: ID!, $i: [ID!]!) { score(userId: $u, itemIds: $i) { items { score } } }';

const scratch = await createScratchDatabase(values.server, 'refresh');
let api: Awaited<ReturnType<typeof startApiProcess>> | undefined;
try {
  const big = await createTenant(scratch.adminUrl, { name: 'big', slug: 'big', embeddingDim: 32, keyRoles: ['admin'] });
  await loadWorld(scratch.adminUrl, big.tenant.id, generateTasteWorld({ users: USERS, items: 2000, interactionsPerUser: PER_USER, seed: 1 }));
  const quiet = await createTenant(scratch.adminUrl, { name: 'quiet', slug: 'quiet', embeddingDim: 32, keyRoles: ['app'] });
  await loadWorld(scratch.adminUrl, quiet.tenant.id, generateTasteWorld({ users: 100, items: 1000, interactionsPerUser: 20, seed: 2 }));
  api = await startApiProcess({ DATABASE_URL: scratch.appUrl, DATABASE_ADMIN_URL: scratch.adminUrl, WORKER_URLS: '' });
  const items = Array.from({ length: 20 }, (_, i) => `item-${i * 7}`);
  await gql(api.url, quiet.keys[0].key, SCORE, { u: 'user-3', i: items }); // loads the model

  let running = true;
  const answers: { at: number; ms: number }[] = [];
  const start = performance.now();
  const quietLoop = (async () => {
    while (running) {
      const asked = performance.now();
      await gql(api.url, quiet.keys[0].key, SCORE, { u: 'user-3', i: items });
      const ms = performance.now() - asked;
      answers.push({ at: (asked - start) / 1000, ms });
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, QUIET_EVERY_MS - ms)));
    }
  })();
  const snapshot = (await gql(api.url, big.keys[0].key, 'mutation { refreshTasteGroups { k users } }')).refreshTasteGroups as { k: number; users: number };
  const seconds = (performance.now() - start) / 1000;
  running = false;
  await quietLoop;

  const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))].toFixed(1);
  console.log(
    `\nrefreshTasteGroups of ${snapshot.users.toLocaleString('en-US')} users (k ${snapshot.k}) in ${seconds.toFixed(1)} s, beside a quiet tenant's score queries\n`,
  );
  console.log('| quiet answers | p50 ms | p99 ms | max ms | slowest (s after the start: ms) |');
  console.log('|---|---|---|---|---|');
  const slowest = [...answers].sort((a, b) => b.ms - a.ms).slice(0, 4);
  console.log(
    `| ${ms.length} | ${at(0.5)} | ${at(0.99)} | ${ms.at(-1)!.toFixed(1)} | ${slowest.map((a) => `${a.at.toFixed(1)}: ${a.ms.toFixed(0)}`).join(', ')} |`,
  );
  console.log(`\ncommand: npm run bench:refresh-fairness -- --users ${USERS} --per-user ${PER_USER}`);
} finally {
  api?.child.kill('SIGTERM');
  await scratch.drop();
}
