// npm run train -- --data DIR --out DIR [--init CHECKPOINT] [--epochs N] [--seed S] [...]
// Trains the preference model (trainer/train.py) and writes model.onnx, ckpt.pt, metrics.json.
import { loadConfig } from '../config.js';
import { runTrainerModule } from '../trainer/python.js';
import { messageOf } from '../errors.js';

runTrainerModule(loadConfig().trainerPython, 'train', process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`train failed: ${messageOf(error)}\n`);
    process.exit(1);
  },
);
