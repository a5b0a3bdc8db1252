// npm run bench:history-cost [-- --seconds 1 --rounds 5 --model models/preference/1/model.onnx]
// What reading more of a user's history costs the model (issue 14, item 4: HISTORY_PER_KIND):
// milliseconds per session.run for one user, by likes + dislikes read and by candidates
// scored (50, a page; 500, a feed's pool), on one onnxruntime thread as the API runs it.
// Rounds alternate the history lengths, so each sees the same machine load; medians.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { DEFAULT_MODEL_STORE } from '../src/config.js';
import { msPerRun, tiledFeeds } from './session-run.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    model: { type: 'string', default: join(DEFAULT_MODEL_STORE, 'preference', '1', 'model.onnx') },
  },
});
const PER_KIND = [2, 4, 8, 16, 32];
const CANDIDATES = [50, 500];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const session = await ort.InferenceSession.create(resolve(values.model), { intraOpNumThreads: 1 });
  const D = Number((session.inputMetadata[0] as ort.InferenceSession.TensorValueMetadata).shape[2]);
  const ms = new Map<string, number[]>();
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const candidates of CANDIDATES) {
      for (const n of PER_KIND) {
        const key = `${n}/${candidates}`;
        ms.set(key, [...(ms.get(key) ?? []), await msPerRun(session, tiledFeeds(D, 1, 2 * n, candidates), Number(values.seconds))]);
      }
    }
  }
  await session.release();
  console.log(`\nnpm run bench:history-cost -- ${process.argv.slice(2).join(' ')}\n`);
  console.log(`model ${values.model} (dimension ${D}); one user per run, one onnxruntime thread; median of ${values.rounds} rounds\n`);
  console.log(`| likes + dislikes read | ${CANDIDATES.map((c) => `ms, ${c} candidates | vs 8 + 8`).join(' | ')} |`);
  console.log(`|---|${CANDIDATES.map(() => '---|---').join('|')}|`);
  for (const n of PER_KIND) {
    const cells = CANDIDATES.map((c) => {
      const here = median(ms.get(`${n}/${c}`)!);
      return `${here.toFixed(3)} | ${(here / median(ms.get(`8/${c}`)!)).toFixed(2)}x`;
    });
    console.log(`| ${n} + ${n} | ${cells.join(' | ')} |`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
