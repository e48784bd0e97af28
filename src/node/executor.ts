import type { Logger } from 'pino';
import type { Message } from '../message/message.js';
import type { FileWriter } from '../methods/files.js';
import type { MethodContext, MethodHandler } from '../methods/method.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Inbox } from '../store/inbox.js';

export interface ExecutorDeps {
  readonly limit: number;
  readonly inbox: Inbox;
  readonly files: FileWriter;
  readonly logger: Logger;
  readonly methodByName: (name: string) => MethodHandler | undefined;
  readonly context: (msg: Message, checkpoint: string | undefined) => MethodContext;
  readonly reportInterrupted: (msg: Message) => void;
  readonly metrics: Metrics;
  /** Runs before the method, and again on a redo: must be idempotent (relay copies). */
  readonly beforeRun?: (msg: Message) => Promise<void>;
}

interface Job {
  msg: Message;
  checkpoint: string | undefined;
  /** The receipt was committed as started already (see Receiver.accept). */
  markedStarted: boolean;
}

/**
 * Runs received messages with bounded concurrency. A method that must not run twice is
 * marked started (durably) before it runs, so a crash mid-run is reported, not repeated.
 */
export class Executor {
  private readonly queue: Job[] = [];
  private running = 0;
  /** Stopping: queued jobs are left for the next start (they are only received), none starts. */
  private draining = false;
  /** The running methods were aborted: they are not marked done (a restart reports them). */
  private aborted = false;
  /** Done marks not yet committed. */
  private readonly finishing = new Set<Promise<void>>();
  /** Slots promised to messages whose receipt is being committed. */
  private reserved = 0;
  private idleWaiters: (() => void)[] = [];
  /** Ids queued or running, with whoever waits for them to finish. */
  private readonly active = new Map<string, (() => void)[]>();

  constructor(private readonly d: ExecutorDeps) {}

  /** `markedStarted`: its receipt says started, and it holds a reserved slot (see reserve()). */
  submit(msg: Message, checkpoint: string | undefined, markedStarted = false): void {
    if (!this.active.has(msg.id)) this.active.set(msg.id, []);
    if (markedStarted) {
      this.reserved--;
      if (!this.aborted) this.start({ msg, checkpoint, markedStarted });
      return;
    }
    this.queue.push({ msg, checkpoint, markedStarted });
    this.next();
  }

  /** Picks up what the ledger holds from before a restart. Call before receiving anything. */
  recover(): { rerun: number; interrupted: number } {
    let rerun = 0;
    let interrupted = 0;
    for (const u of this.d.inbox.unfinished()) {
      const handler = this.d.methodByName(u.message.method);
      if (handler === undefined) continue;
      if (u.state === 'started' && handler.onInterrupted === 'report') {
        interrupted++;
        void this.d.inbox.finished(u.message.id, 'interrupted');
        this.d.reportInterrupted(u.message);
        continue;
      }
      if (u.checkpoint !== undefined) handler.recover?.(u.checkpoint, u.message, this.d.files);
      rerun++;
      this.submit(u.message, u.checkpoint);
    }
    return { rerun, interrupted };
  }

  /**
   * A promise that resolves when message `id` has run, if it is queued or running now;
   * undefined otherwise (it already ran, or was never received).
   */
  whenFinished(id: string): Promise<void> | undefined {
    const waiters = this.active.get(id);
    if (waiters === undefined) return undefined;
    return new Promise((resolve) => waiters.push(resolve));
  }

  /**
   * Reserves a slot for a message whose receipt is being committed, when one is free and nothing
   * waits for one: it will start as soon as it is submitted (with `markedStarted`). A reservation
   * not followed by that submit is given back with `release()`.
   */
  reserve(): boolean {
    if (this.draining || this.running + this.reserved >= this.d.limit || this.queue.length > 0) return false;
    this.reserved++;
    return true;
  }

  release(): void {
    this.reserved--;
    this.next();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops: nothing new starts, and the running methods get `graceMs` to finish (their done mark
   * is committed, so a restart does not report them). Then `abort` is called for the rest, whose
   * receipts stay as they are: a restart reports them as interrupted, or redoes them.
   */
  async drain(graceMs: number, abort: () => void): Promise<void> {
    this.draining = true;
    if (!(await this.settled(graceMs))) {
      this.aborted = true;
      abort();
      await this.settled(5000);
    }
    await Promise.allSettled([...this.finishing]);
  }

  /** Resolves true once nothing runs, false after `ms`. */
  private async settled(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (this.running + this.reserved > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  private next(): void {
    while (!this.draining && this.running + this.reserved < this.d.limit && this.queue.length > 0) {
      this.start(this.queue.shift() as Job);
    }
  }

  private start(job: Job): void {
    this.running++;
    void this.run(job).finally(() => {
      this.running--;
      const waiters = this.active.get(job.msg.id);
      this.active.delete(job.msg.id);
      for (const w of waiters ?? []) w();
      this.next();
      if (this.running === 0 && this.queue.length === 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
      }
    });
  }

  private async run({ msg, checkpoint, markedStarted }: Job): Promise<void> {
    const handler = this.d.methodByName(msg.method);
    if (handler === undefined) return;
    const tracked = handler.ledger !== false;
    const startedAt = performance.now();
    try {
      if (this.d.beforeRun !== undefined) await this.d.beforeRun(msg);
      if (tracked && handler.onInterrupted === 'report' && !markedStarted) await this.d.inbox.started(msg.id);
      await handler.run(msg, this.d.context(msg, checkpoint));
    } catch (err) {
      this.d.logger.error({ id: msg.id, method: msg.method, err: (err as Error).message }, 'method failed');
      this.d.context(msg, checkpoint).reportError(`error: ${msg.method} failed on ${msg.toNode}: ${(err as Error).message} (id ${msg.id})`);
    }
    this.d.metrics.methodDuration(msg.method, (performance.now() - startedAt) / 1000);
    // Not awaited: the slot is free once the method has run, whatever the commit costs.
    if (tracked && !this.aborted) {
      const done = this.d.inbox.finished(msg.id, 'done', handler.onInterrupted === 'redo').catch(() => {});
      this.finishing.add(done);
      void done.finally(() => this.finishing.delete(done));
    }
  }
}
