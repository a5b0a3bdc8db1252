// npm run bench:seeds -- --train DIR --test DIR [--seeds 0,1,2] [--epochs N] [--n-ref 8]
// The model's lead with intervals: each variant over several training seeds, paired against
// the best baseline user by user (trainer/bench_seeds.py).
import { loadConfig } from '../src/config.js';
import { runTrainerModule } from '../src/trainer/python.js';

runTrainerModule(loadConfig().trainerPython, 'bench_seeds', process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench:seeds failed: ${error.message}\n`);
    process.exit(1);
  },
);
