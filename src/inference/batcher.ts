// Dynamic batching with Triton's semantics and DataLoader's mechanics: requests merge into one
// run up to a maximum batch size or a maximum queue delay; one caller of run at a time; the
// queue is bounded and refuses at once when full; a request past its deadline is dropped
// before compute; a failed run rejects exactly the requests in it, so nothing hangs.
// Background requests (users' representations for taste groups, hundreds of users at a time)
// wait behind every interactive one: scoring waits at most for the run in progress.
import { splitOutput, stackBatches, type ScoreBatch, type ScoreOutput } from './tensors.js';

export class OverloadedError extends Error {
  constructor(queued: number) {
    super(`overloaded: ${queued} rows already queued`);
    this.name = 'OverloadedError';
  }
}

export class DeadlineExceededError extends Error {
  constructor() {
    super('deadline exceeded before compute');
    this.name = 'DeadlineExceededError';
  }
}

export interface BatcherOptions {
  run: (batch: ScoreBatch) => Promise<ScoreOutput>;
  /** Rows (users) per run; 1 turns batching off. */
  maxBatchSize: number;
  maxQueueDelayMs: number;
  /** Rows that may wait; beyond this, submit fails with OverloadedError. */
  maxQueueSize: number;
  onRun?: (rows: number, requests: number) => void;
}

interface Pending {
  batch: ScoreBatch;
  deadline: number;
  background: boolean;
  resolve: (output: ScoreOutput) => void;
  reject: (error: Error) => void;
}

export interface SubmitOptions {
  /** Runs only when no interactive request is waiting (FIFO among background requests). */
  background?: boolean;
}

export interface Batcher {
  submit(batch: ScoreBatch, deadline?: number, options?: SubmitOptions): Promise<ScoreOutput>;
  /** Rows waiting (not counting the run in progress). */
  readonly queued: number;
  /** Resolves once everything submitted so far has been answered. */
  drain(): Promise<void>;
}

export function createBatcher(options: BatcherOptions): Batcher {
  const queue: Pending[] = [];
  let queuedRows = 0;
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  const idle: (() => void)[] = [];

  let immediate: NodeJS.Immediate | undefined;

  /** `afterRun`: the queue filled while a run was in progress, so there is nothing to wait a turn for. */
  function schedule(afterRun = false) {
    if (running || queue.length === 0) return;
    if (queuedRows >= options.maxBatchSize || options.maxBatchSize === 1) {
      void flush();
    } else if (options.maxQueueDelayMs <= 0) {
      if (afterRun) return void flush();
      // No fixed wait: run on the next turn of the event loop, after the requests that
      // arrived in this one (DataLoader's tick). Under load, requests that arrive while a run
      // is in progress queue up and go together in the next run.
      immediate ??= setImmediate(() => {
        immediate = undefined;
        void flush();
      });
    } else if (!timer) {
      timer = setTimeout(() => void flush(), options.maxQueueDelayMs);
    }
  }

  /** Takes whole requests while they fit (an oversized first request runs alone), rejecting expired ones. */
  function take(): { taken: Pending[]; rows: number } {
    const now = Date.now();
    const taken: Pending[] = [];
    let rows = 0;
    while (queue.length > 0 && (taken.length === 0 || rows + queue[0].batch.B <= options.maxBatchSize)) {
      const next = queue.shift()!;
      queuedRows -= next.batch.B;
      if (next.deadline <= now) {
        next.reject(new DeadlineExceededError());
        continue;
      }
      taken.push(next);
      rows += next.batch.B;
    }
    return { taken, rows };
  }

  async function flush() {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (running) return;
    const { taken, rows } = take();
    if (taken.length === 0) {
      if (queue.length === 0) while (idle.length) idle.shift()!();
      return;
    }
    running = true;
    const parts = taken.map((p) => p.batch);
    let output: ScoreOutput | undefined;
    let failure: Error | undefined;
    try {
      output = await options.run(parts.length === 1 ? parts[0] : stackBatches(parts));
      options.onRun?.(rows, taken.length);
    } catch (error) {
      failure = error as Error;
    }
    running = false;
    // Start the next run before answering this one: answering resumes every caller (in the
    // worker, encoding and writing each HTTP response), which takes milliseconds of this
    // thread, and the model would sit idle meanwhile. Measured at 64 callers: the session
    // thread waited 4-9 ms between runs of 11-15 ms when answers went first.
    schedule(true);
    let outputs: ScoreOutput[] = [];
    if (!failure) {
      try {
        outputs = parts.length === 1 ? [output!] : splitOutput(output!, parts);
      } catch (error) {
        failure = error as Error; // an output of the wrong shape fails its requests, not the process
      }
    }
    if (failure) for (const p of taken) p.reject(failure);
    else taken.forEach((p, i) => p.resolve(outputs[i]));
    if (!running && queue.length === 0) while (idle.length) idle.shift()!();
  }

  return {
    submit(batch, deadline = Number.POSITIVE_INFINITY, { background = false } = {}) {
      if (queuedRows + batch.B > options.maxQueueSize) return Promise.reject(new OverloadedError(queuedRows));
      return new Promise<ScoreOutput>((resolve, reject) => {
        const pending = { batch, deadline, background, resolve, reject };
        // An interactive request goes ahead of the background ones already waiting.
        const firstBackground = background ? -1 : queue.findIndex((p) => p.background);
        if (firstBackground === -1) queue.push(pending);
        else queue.splice(firstBackground, 0, pending);
        queuedRows += batch.B;
        schedule();
      });
    },
    get queued() {
      return queuedRows;
    },
    drain() {
      if (!running && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
  };
}
