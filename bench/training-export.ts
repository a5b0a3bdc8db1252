// One export of one tenant in a process of its own, so that its peak memory is the export's:
// node --import tsx bench/training-export.ts <app database URL> <tenant id> <folder>
// Prints one JSON line: seconds, the process's peak RSS (and its RSS before the export), the stats.
import { createDatabase } from '../src/repositories/database.js';
import { createTrainingDataRepository } from '../src/repositories/training-data.repository.js';
import { exportDataset } from '../src/training/dataset-export.js';

const [url, tenantId, dir] = process.argv.slice(2);
const db = createDatabase({ connectionString: url, poolSize: 1 });
const before = process.memoryUsage().rss;
const started = performance.now();
const { stats } = await exportDataset(createTrainingDataRepository(db), tenantId, dir, 20);
const seconds = (performance.now() - started) / 1000;
await db.close();
// resourceUsage().maxRSS is in kilobytes: the peak of the whole process.
process.stdout.write(`${JSON.stringify({ seconds, peakRssMb: process.resourceUsage().maxRSS / 1024, startRssMb: before / 1024 / 1024, stats })}\n`);
