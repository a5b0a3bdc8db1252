// Groups points on a thread of its own (clustering/grouping-thread.ts), so the caller's event
// loop stays free meanwhile: a refreshTasteGroups in the API otherwise held every tenant's
// requests on that instance for the whole clustering (bench:grouping-thread). A compiled build
// (dist/, what `npm start`, the images and the tests' child processes run) has the thread's
// JavaScript; run from the TypeScript sources (tsx, vitest's in-process tests), where a thread
// could not load TypeScript, it groups in line, with the same result. It lives in services/, not
// clustering/, because starting threads and looking for files is not pure.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { groupPoints, type Grouping, type GroupingOptions } from '../clustering/grouping.js';
import type { Points } from '../clustering/points.js';

const COMPILED_THREAD = new URL('../clustering/grouping-thread.js', import.meta.url);
const compiled = existsSync(fileURLToPath(COMPILED_THREAD));

/** groupPoints, computed on a new thread; `thread` names another build's grouping-thread.js (tests). */
export function groupPointsOffThread(
  points: Points,
  options: GroupingOptions,
  thread: URL | undefined = compiled ? COMPILED_THREAD : undefined,
): Promise<Grouping> {
  if (!thread) return Promise.resolve(groupPoints(points, options));
  return new Promise((resolve, reject) => {
    // One thread per grouping: groupings are rare (hourly, or an admin's refresh), and a thread
    // that fails takes nothing else with it.
    const worker = new Worker(thread, { workerData: { points, options } });
    let answered = false;
    worker.once('message', (grouping: Grouping) => {
      answered = true;
      resolve(grouping);
    });
    worker.once('error', (error) => {
      answered = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the grouping thread exited (code ${code}) without an answer`));
    });
  });
}
