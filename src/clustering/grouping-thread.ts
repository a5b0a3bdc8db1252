// groupPoints on a thread of its own (started by services/grouping-off-thread.ts): k-means over
// every user and silhouette over a sample take seconds for a large tenant (2.5 s at 20,000 or
// 100,000 users), which on the API's event loop every other request, of every tenant, would wait
// for.
import { parentPort, workerData } from 'node:worker_threads';
import { groupPoints, type GroupingOptions } from './grouping.js';
import type { Points } from './points.js';

const { points, options } = workerData as { points: Points; options: GroupingOptions };
const grouping = groupPoints(points, options);
// The large arrays move to the caller instead of being copied.
const transfer = [grouping.ordinals.buffer, grouping.coordinates.buffer, ...grouping.centroids.map((c) => c.buffer)];
parentPort!.postMessage(grouping, transfer as ArrayBuffer[]);
