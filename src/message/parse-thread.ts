import { Worker } from 'node:worker_threads';
import { isCompleteDocument, operatorRequest } from './document.js';
import { parseInput, parseInputInBatches, type ParseContext, type ParseOutcome } from './parse.js';

/**
 * An idle parser thread is ended after this long: a large input leaves a large heap behind
 * (parsing 10,000 messages grows it by about 70 MB). Starting a thread again costs about 0.2 s
 * of CPU on another core (a new isolate compiles the parser and its schema library), which a
 * client sending large inputs one after another would pay for each of them with a shorter wait.
 */
const IDLE_EXIT_MS = 5000;

/**
 * The parser thread's heap limit. An input that would need more (the cap is 256 MiB of text)
 * ends the thread, not the node: the input is answered with an error and the thread restarted.
 */
const WORKER_HEAP_MB = 1536;

/**
 * What the main thread hands the parser thread (the context without its clock). A parse job's
 * outcomes come back in partial answers of `batch` outcomes or so, as they are made, then a final
 * answer with any left.
 */
export type ParseJob =
  | { id: number; kind: 'parse'; bytes: Uint8Array; ctx: ParseContext; batch: number }
  | { id: number; kind: 'complete' | 'operator'; bytes: Uint8Array };

/** Outcomes of a parse job made so far; the job goes on. */
export interface PartialAnswer {
  id: number;
  ok: true;
  partial: ParseOutcome[];
}

export type ParseAnswer =
  | { id: number; ok: true; outcomes: ParseOutcome[] }
  | { id: number; ok: true; complete: boolean }
  | { id: number; ok: true; request: Record<string, unknown> | undefined }
  | { id: number; ok: false; error: string };

/** Why a parse failed when the thread ended without an error of its own. */
const STOPPED = 'the parser thread stopped';

/** A worker that has loaded its modules says so first: one that fails before cannot be used. */
export const READY = 'ready';

type JobBody = ParseJob extends infer J ? (J extends ParseJob ? Omit<J, 'id'> : never) : never;

/**
 * Does a job, on whichever thread calls it (the parser thread, or the event loop as a fallback).
 * With `partial`, a parse job's outcomes go there in batches as they are made, and the answer
 * holds none.
 */
export function answerJob(job: ParseJob, partial?: (outcomes: ParseOutcome[]) => void): ParseAnswer {
  try {
    switch (job.kind) {
      case 'parse':
        if (partial === undefined) return { id: job.id, ok: true, outcomes: parseInput(job.bytes, job.ctx) };
        parseInputInBatches(job.bytes, job.ctx, job.batch, partial);
        return { id: job.id, ok: true, outcomes: [] };
      case 'complete':
        return {
          id: job.id,
          ok: true,
          complete: isCompleteDocument(Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength).toString('utf8')),
        };
      case 'operator':
        return { id: job.id, ok: true, request: operatorRequest(job.bytes) };
    }
  } catch (err) {
    return { id: job.id, ok: false, error: (err as Error).message };
  }
}

interface Pending {
  job: ParseJob;
  resolve: (a: ParseAnswer) => void;
  /** Where a parse job's partial answers go. */
  partial?: (outcomes: ParseOutcome[]) => void;
  /** The thread the job was handed to: only its end concerns the job. */
  worker?: Worker;
}

/** One worker thread, started on first use, that parses inputs in the order they are handed over. */
export class ParseThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private idleTimer: NodeJS.Timeout | undefined;
  /** Threads ended on purpose (idle, or the node stopping): their exit says nothing about whether a thread can start. */
  private readonly retired = new WeakSet<Worker>();
  /**
   * Why no parser thread could be started (its modules failed to load, e.g. a NODE_OPTIONS
   * preload that only works on the main thread): inputs are then parsed on the event loop, as
   * they would be without this class, rather than refused.
   */
  unavailable: string | undefined;
  /** Threads started so far (tests). */
  threadsStarted = 0;

  private readonly heapMb: number;
  private readonly idleMs: number;
  private readonly workerFile: URL | undefined;

  /** `heapMb`: the thread's heap limit; `idleMs`: when an idle thread ends; `workerFile`: another worker script (tests). */
  constructor(opts: { heapMb?: number; idleMs?: number; workerFile?: URL } = {}) {
    this.heapMb = opts.heapMb ?? WORKER_HEAP_MB;
    this.idleMs = opts.idleMs ?? IDLE_EXIT_MS;
    this.workerFile = opts.workerFile;
  }

  /**
   * `parseInput` on this thread, its outcomes handed to `each` in input order, in batches of
   * about `batch` as the thread makes them; resolves once all are handed over. When the thread
   * fails, the last outcome is an error that says from which message on (never a rejection).
   */
  async parseInBatches(bytes: Uint8Array, ctx: ParseContext, batch: number, each: (outcomes: ParseOutcome[]) => void): Promise<void> {
    const plain: ParseContext = {
      nodeName: ctx.nodeName,
      methods: [...ctx.methods],
      defaultAckTimeoutMs: ctx.defaultAckTimeoutMs,
      defaultRetries: ctx.defaultRetries,
      defaultMethodTimeoutMs: ctx.defaultMethodTimeoutMs,
    };
    let next = 0;
    const take = (outcomes: ParseOutcome[]): void => {
      const last = outcomes.at(-1);
      if (last !== undefined) next = last.index + 1;
      each(outcomes);
    };
    const a = await this.run({ kind: 'parse', bytes, ctx: plain, batch }, take);
    if (!a.ok) {
      const error =
        next === 0 ? `the input could not be parsed: ${a.error}` : `the input could not be parsed from message ${next} on: ${a.error}`;
      each([{ index: next, ok: false, error }]);
    } else if ('outcomes' in a && a.outcomes.length > 0) take(a.outcomes);
  }

  /** Whether a thread is up now (tests). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /**
   * Starts the thread ahead of an input that is still arriving (one past OFF_THREAD_BYTES), so
   * that it is ready, its parser loaded, when the input is complete. It ends like an idle thread
   * when no input comes.
   */
  warm(): void {
    if (this.unavailable !== undefined || this.worker !== undefined) return;
    try {
      const worker = this.startWorker();
      if (this.pending.size === 0) this.idle(worker);
    } catch (err) {
      this.unavailable = (err as Error).message;
    }
  }

  /** Does a job on the thread (`partial`: where a parse job's partial answers go). */
  run(body: JobBody, partial?: (outcomes: ParseOutcome[]) => void): Promise<ParseAnswer> {
    const job = { ...body, id: this.nextId++ };
    if (this.unavailable !== undefined) return Promise.resolve(answerJob(job));
    return new Promise((resolve) => {
      const p: Pending = partial === undefined ? { job, resolve } : { job, resolve, partial };
      this.pending.set(job.id, p);
      this.post(p);
    });
  }

  private post(p: Pending): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    try {
      const worker = this.worker ?? this.startWorker();
      worker.ref();
      p.worker = worker;
      worker.postMessage(p.job);
    } catch (err) {
      // No thread can be made here at all: parse on the event loop from now on.
      this.unavailable = (err as Error).message;
      this.pending.delete(p.job.id);
      p.resolve(answerJob(p.job));
    }
  }

  private startWorker(): Worker {
    this.threadsStarted++;
    const file = new URL('./parse-worker.js', import.meta.url);
    const options = { resourceLimits: { maxOldGenerationSizeMb: this.heapMb } };
    // Under tsx (tests, benchmarks) this module is a .ts file, and so is its worker, which then
    // needs tsx's loader registered in its own thread first.
    const worker =
      this.workerFile !== undefined
        ? new Worker(this.workerFile, options)
        : import.meta.url.endsWith('.ts')
          ? new Worker(
              `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(file.href.replace(/\.js$/, '.ts'))}); });`,
              { ...options, eval: true },
            )
          : new Worker(file, options);
    let failure = STOPPED;
    let ready = false;
    worker.on('message', (a: ParseAnswer | PartialAnswer | typeof READY) => {
      if (a === READY) {
        ready = true;
        return;
      }
      const p = this.pending.get(a.id);
      if (p === undefined) return;
      if ('partial' in a) {
        p.partial?.(a.partial);
        return;
      }
      this.pending.delete(a.id);
      p.resolve(a);
      if (this.pending.size === 0) this.idle(worker);
    });
    worker.on('error', (err: Error) => {
      failure = err.message;
    });
    worker.on('exit', (code: number) => {
      if (failure === STOPPED) failure = `${STOPPED} (exit code ${code})`;
      if (this.worker === worker) this.worker = undefined;
      // Only the jobs handed to this thread (one ended when idle may exit after a new one
      // took the next jobs).
      const waiting = [...this.pending.values()].filter((p) => p.worker === worker).sort((a, b) => a.job.id - b.job.id);
      for (const p of waiting) this.pending.delete(p.job.id);
      if (!ready && !this.retired.has(worker)) {
        // It never ran a job: the inputs are parsed here, and so are the next ones.
        this.unavailable = failure;
        for (const p of waiting) p.resolve(answerJob(p.job));
        return;
      }
      // Jobs run in order: the oldest pending one is the one that ended the thread. It is
      // answered with the error; the ones queued behind it go to a new thread.
      const [first, ...rest] = waiting;
      first?.resolve({ id: first.job.id, ok: false, error: failure });
      for (const p of rest) {
        this.pending.set(p.job.id, p);
        this.post(p);
      }
    });
    this.worker = worker;
    return worker;
  }

  /** Ends the thread; inputs still pending are answered with an error. Safe to call twice. */
  stop(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    const worker = this.worker;
    this.worker = undefined;
    for (const p of this.pending.values()) p.resolve({ id: p.job.id, ok: false, error: 'steward is stopping' });
    this.pending.clear();
    if (worker !== undefined) this.retire(worker);
  }

  private idle(worker: Worker): void {
    worker.unref();
    this.idleTimer = setTimeout(() => {
      if (this.pending.size === 0 && this.worker === worker) {
        this.worker = undefined;
        this.retire(worker);
      }
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /** Ends a thread on purpose (a warmed one may not even be ready yet). */
  private retire(worker: Worker): void {
    this.retired.add(worker);
    void worker.terminate();
  }
}
