// npm run bench:history-cost [-- --seconds 1 --rounds 5 --model A.onnx [--model B.onnx]]
// What reading more of a user's history costs the model (issue 14, item 4: HISTORY_PER_KIND):
// milliseconds per session.run for one user, by likes + dislikes read and by candidates
// scored (50, a page; 500, a feed's pool), on one onnxruntime thread as the API runs it.
// Rounds alternate the history lengths and the models, so each sees the same machine load;
// medians. With two or more models, each is also compared with the first (the regression
// ensemble against the network alone, say: trainer --ensemble, session 15).
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { DEFAULT_MODEL_STORE } from '../src/config.js';
import { msPerRun, tiledFeeds } from './session-run.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    model: { type: 'string', multiple: true, default: [join(DEFAULT_MODEL_STORE, 'preference', '1', 'model.onnx')] },
  },
});
const PER_KIND = [2, 4, 8, 16, 32];
const CANDIDATES = [50, 500];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const models = values.model;
  const sessions = await Promise.all(models.map((m) => ort.InferenceSession.create(resolve(m), { intraOpNumThreads: 1 })));
  const dims = sessions.map((s) => Number((s.inputMetadata[0] as ort.InferenceSession.TensorValueMetadata).shape[2]));
  if (new Set(dims).size > 1) throw new Error(`--model: the models read vectors of different dimensions (${dims.join(', ')})`);
  const D = dims[0];
  const ms = new Map<string, number[]>();
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const candidates of CANDIDATES) {
      for (const n of PER_KIND) {
        for (const [m, session] of sessions.entries()) {
          const key = `${m}/${n}/${candidates}`;
          ms.set(key, [...(ms.get(key) ?? []), await msPerRun(session, tiledFeeds(D, 1, 2 * n, candidates), Number(values.seconds))]);
        }
      }
    }
  }
  await Promise.all(sessions.map((s) => s.release()));
  const at = (m: number, n: number, c: number) => median(ms.get(`${m}/${n}/${c}`)!);
  console.log(`\nnpm run bench:history-cost -- ${process.argv.slice(2).join(' ')}\n`);
  for (const [m, model] of models.entries()) {
    console.log(`model ${model} (dimension ${D}); one user per run, one onnxruntime thread; median of ${values.rounds} rounds\n`);
    const versus = m > 0 ? ' | vs the first model' : '';
    console.log(`| likes + dislikes read | ${CANDIDATES.map((c) => `ms, ${c} candidates | vs 8 + 8${versus}`).join(' | ')} |`);
    console.log(`|---|${CANDIDATES.map(() => (m > 0 ? '---|---|---' : '---|---')).join('|')}|`);
    for (const n of PER_KIND) {
      const cells = CANDIDATES.map((c) => {
        const here = at(m, n, c);
        const first = m > 0 ? ` | ${(here / at(0, n, c)).toFixed(2)}x` : '';
        return `${here.toFixed(3)} | ${(here / at(m, 8, c)).toFixed(2)}x${first}`;
      });
      console.log(`| ${n} + ${n} | ${cells.join(' | ')} |`);
    }
    console.log('');
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
