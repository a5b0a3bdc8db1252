// npm run train -- --data DIR --out DIR [--design nightly] [--init CHECKPOINT] [--epochs N] [--seed S] [...]
// Trains the preference model (trainer/train.py) and writes model.onnx, ckpt.pt, metrics.json.
// `--design nightly` trains with the flags a tenant's first nightly model trains with
// (training/trainer-design.ts); flags given after it override its own.
import { loadConfig } from '../config.js';
import { runTrainerModule } from '../trainer/python.js';
import { trainArgsWithDesign } from '../training/trainer-design.js';
import { messageOf } from '../errors.js';

// async, so that a bad flag or setting, thrown before the trainer starts, ends as "train failed: ..."
// with exit code 1 like a trainer that fails, not as an uncaught exception's stack trace.
async function main(): Promise<number> {
  const config = loadConfig();
  return runTrainerModule(config.trainerPython, 'train', trainArgsWithDesign(process.argv.slice(2), config.training));
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`train failed: ${messageOf(error)}\n`);
    process.exit(1);
  },
);
