// Runs the PyTorch trainer (trainer/, a Python package) from TypeScript commands. The trainer
// needs Debian's python3-torch, python3-onnx and libopenblas0-pthread under /usr/bin/python3;
// a missing piece is reported as what to install, not as a Python traceback.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function checkTrainerPython(python: string): void {
  const probe = spawnSync(python, ['-c', 'import torch, onnx, numpy'], { encoding: 'utf8' });
  if (probe.error) throw new Error(`TRAINER_PYTHON: cannot run "${python}" (${probe.error.message})`);
  if (probe.status !== 0) {
    const missing = /No module named '([^']+)'/.exec(probe.stderr)?.[1] ?? 'a module';
    throw new Error(
      `${python} lacks ${missing}: install the trainer's packages with ` +
        '"apt-get install -y python3-torch python3-onnx libopenblas0-pthread" (or set TRAINER_PYTHON)',
    );
  }
}

/** Runs `python -m trainer.<module> ...args` in the repository root, streaming its output; resolves with the exit code. */
export function runTrainerModule(python: string, module: string, args: string[]): Promise<number> {
  checkTrainerPython(python);
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-m', `trainer.${module}`, ...args], { cwd: REPOSITORY_ROOT, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
