// Runs one trainer/ module (the real PyTorch trainer) as a child process and reads its JSON
// progress lines as they come. The caller learns how it ended in words fit for a run's error:
// the exit code with the last lines it printed, or the signal that killed it; and, however it
// ended, the last lines it wrote on stderr, where the trainer warns of a run that still succeeds
// (an epoch kept without validation users, bfloat16 emulated) even with --quiet.
import { spawn } from 'node:child_process';
import { REPOSITORY_ROOT, checkTrainerPython } from '../trainer/python.js';

export interface TrainerExit {
  ok: boolean;
  /** Why it failed, for the run's error (undefined when ok). */
  error?: string;
  /** The signal that ended it, if one did (a trainer killed mid-run). */
  signal?: NodeJS.Signals;
  /** The last lines (up to 20, non-empty) it wrote on stderr; empty when it wrote none. */
  stderr: string[];
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

/** Keeps the last TAIL_LINES non-empty lines pushed to it. */
function lastLines() {
  const lines: string[] = [];
  return {
    lines,
    push(line: string) {
      if (!line.trim()) return;
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
    },
  };
}

/** Hands each whole line of a stream's text to onLine; end() hands over a last one without its newline. */
function byLine(onLine: (line: string) => void) {
  let pending = '';
  return {
    write(chunk: string) {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(onLine);
    },
    end() {
      if (pending) onLine(pending);
      pending = '';
    },
  };
}

export function runTrainer(run: TrainerRun): Promise<TrainerExit> {
  checkTrainerPython(run.python);
  return new Promise((resolve) => {
    const child = spawn(run.python, ['-m', `trainer.${run.module}`, ...run.args], { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    // Both streams, in the order they came, for a failure's error; stderr alone for the caller.
    const output = lastLines();
    const stderr = lastLines();
    const stdoutLines = byLine((line) => {
      if (line.startsWith('{')) {
        try {
          run.onMessage?.(JSON.parse(line) as Record<string, unknown>);
          return;
        } catch {
          // not one of ours: keep it as output
        }
      }
      output.push(line);
    });
    const stderrLines = byLine((line) => {
      output.push(line);
      stderr.push(line);
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', stdoutLines.write);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', stderrLines.write);
    let killTimer: NodeJS.Timeout | undefined;
    const abort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    };
    run.signal?.addEventListener('abort', abort, { once: true });
    child.once('error', (error) => resolve({ ok: false, error: `the trainer could not start: ${error.message}`, stderr: stderr.lines }));
    child.once('close', (code, signal) => {
      clearTimeout(killTimer);
      run.signal?.removeEventListener('abort', abort);
      // 'close' comes after both streams have ended.
      stdoutLines.end();
      stderrLines.end();
      const last = output.lines
        .filter((l) => !/Warning|warnings\.warn|^\s+(_C\.|logits = )/.test(l))
        .slice(-5)
        .join(' | ');
      const said = stderr.lines;
      if (signal)
        resolve({ ok: false, signal, stderr: said, error: `the trainer (${run.module}) was killed by ${signal}${last ? `; its last output: ${last}` : ''}` });
      else if (code !== 0) resolve({ ok: false, stderr: said, error: `the trainer (${run.module}) exited with code ${code}: ${last || 'no output'}` });
      else resolve({ ok: true, stderr: said });
    });
  });
}
