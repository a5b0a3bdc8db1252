// npm run bench:model -- --train DIR --test DIR [--epochs N] [--seed S]
// Trains every variant and prints the EVAL-1 tables (trainer/bench_model.py).
import { loadConfig } from '../src/config.js';
import { runTrainerModule } from '../src/trainer/python.js';

runTrainerModule(loadConfig().trainerPython, 'bench_model', process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench:model failed: ${error.message}\n`);
    process.exit(1);
  },
);
