// Runs one trainer/ module (the real PyTorch trainer) as a child process and reads its JSON
// progress lines as they come. The caller learns how it ended in words fit for a run's error:
// the exit code with the last lines it printed, or the signal that killed it.
import { spawn } from 'node:child_process';
import { REPOSITORY_ROOT, checkTrainerPython } from '../trainer/python.js';

export interface TrainerExit {
  ok: boolean;
  /** Why it failed, for the run's error (undefined when ok). */
  error?: string;
  /** The signal that ended it, if one did (a trainer killed mid-run). */
  signal?: NodeJS.Signals;
}

export interface TrainerRun {
  python: string;
  module: 'train' | 'compare';
  args: string[];
  /** Each JSON line it prints, parsed ({"progress": ...}, {"evaluated": ...}). */
  onMessage?: (message: Record<string, unknown>) => void;
  /** Aborting kills it (SIGTERM, then SIGKILL after 5 s). */
  signal?: AbortSignal;
}

const TAIL_LINES = 20;

export function runTrainer(run: TrainerRun): Promise<TrainerExit> {
  checkTrainerPython(run.python);
  return new Promise((resolve) => {
    const child = spawn(run.python, ['-m', `trainer.${run.module}`, ...run.args], { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const remember = (line: string) => {
      if (!line.trim()) return;
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    };
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('{')) {
          try {
            run.onMessage?.(JSON.parse(line) as Record<string, unknown>);
            continue;
          } catch {
            // not one of ours: keep it as output
          }
        }
        remember(line);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => chunk.split('\n').forEach(remember));
    let killTimer: NodeJS.Timeout | undefined;
    const abort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    };
    run.signal?.addEventListener('abort', abort, { once: true });
    child.once('error', (error) => resolve({ ok: false, error: `the trainer could not start: ${error.message}` }));
    child.once('close', (code, signal) => {
      clearTimeout(killTimer);
      run.signal?.removeEventListener('abort', abort);
      const last = tail
        .filter((l) => !/Warning|warnings\.warn|^\s+(_C\.|logits = )/.test(l))
        .slice(-5)
        .join(' | ');
      if (signal) resolve({ ok: false, signal, error: `the trainer (${run.module}) was killed by ${signal}${last ? `; its last output: ${last}` : ''}` });
      else if (code !== 0) resolve({ ok: false, error: `the trainer (${run.module}) exited with code ${code}: ${last || 'no output'}` });
      else resolve({ ok: true });
    });
  });
}
