import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { NO_REPLY, type Message } from '../message/message.js';
import type { MethodContext, MethodHandler } from '../methods/method.js';
import type { Metrics } from '../metrics/metrics.js';
import type { FileWriter } from '../store/files.js';
import type { Inbox } from '../store/inbox.js';

export interface ExecutorDeps {
  readonly limit: number;
  readonly inbox: Inbox;
  readonly files: FileWriter;
  readonly logger: Logger;
  readonly methodByName: (name: string) => MethodHandler | undefined;
  /** The context a method runs with (see MethodContext: `signal`, `started`). */
  readonly context: (msg: Message, checkpoint: string | undefined, run: RunControl) => MethodContext;
  readonly reportInterrupted: (msg: Message) => void;
  readonly metrics: Metrics;
  /** Runs before the method, and again on a redo: must be idempotent (relay copies). */
  readonly beforeRun?: (msg: Message) => Promise<void>;
  /** A message from before a restart: why it may no longer run (keys revoked, policy changed), if so. */
  readonly recheck?: (msg: Message) => string | undefined;
}

/** What the executor gives one run of a method. */
export interface RunControl {
  /** Aborted at the methodTimeout (a TimeoutError) or when the node stops (a StopError). */
  readonly signal: AbortSignal;
  /** Makes "it may have run" durable (idempotent; done already when its receipt said so). */
  readonly started: () => Promise<void>;
}

/** The reason a run's signal carries when the node stops (a timeout carries a TimeoutError). */
export class StopError extends Error {
  override readonly name = 'StopError';
}

interface Job {
  msg: Message;
  checkpoint: string | undefined;
  /** The receipt was committed as started already (see Receiver.accept). */
  markedStarted: boolean;
}

/**
 * How long a first reply waits for the replies of the jobs started before it: a command that
 * runs long (or forever, methodTimeout -1) must not hold up the replies of later ones.
 */
const REPLY_ORDER_WAIT_MS = 10_000;

/** A job's place among the replies to one subject: its first reply waits for `before`. */
interface Turn {
  before: Promise<void>;
  release: () => void;
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
  /** Woken when nothing runs or is reserved (see drain). */
  private settledWaiters: (() => void)[] = [];
  /** Aborts every running method (the node stops after its grace time). */
  private readonly stopping = new AbortController();
  /** Ids queued or running, with whoever waits for them to finish. */
  private readonly active = new Map<string, (() => void)[]>();
  /** Per result file of commands (sender, reply method, directory, file name): released once the last job started has replied. */
  private readonly replyTails = new Map<string, Promise<void>>();

  constructor(private readonly d: ExecutorDeps) {
    // One stop signal is shared by every running method: it may have many listeners.
    setMaxListeners(0, this.stopping.signal);
  }

  /** `markedStarted`: its receipt says started, and it holds a reserved slot (see reserve()). */
  submit(msg: Message, checkpoint: string | undefined, markedStarted = false): void {
    if (!this.active.has(msg.id)) this.active.set(msg.id, []);
    if (markedStarted) {
      this.reserved--;
      if (!this.aborted) this.start({ msg, checkpoint, markedStarted });
      this.wakeIfSettled();
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
      const refused = this.d.recheck?.(u.message);
      if (refused !== undefined) {
        void this.d.inbox.finished(u.message.id, 'interrupted');
        this.d.logger.error({ id: u.message.id, from: u.message.fromNode }, `not run after the restart: ${refused}`);
        continue;
      }
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
   * Reserves a slot for a message whose receipt is being committed, when nothing else runs or
   * waits: it will start as soon as it is submitted (with `markedStarted`), so its receipt may
   * say "started" and spare the commit that would say so a moment later (a lone command). Under
   * load, receipts say "received" and each command is marked started right before its fork,
   * so a crash never counts one that was still waiting as possibly run. A reservation not
   * followed by that submit is given back with `release()`.
   */
  reserve(): boolean {
    if (this.draining || this.running + this.reserved > 0 || this.queue.length > 0) return false;
    this.reserved++;
    return true;
  }

  release(): void {
    this.reserved--;
    this.next();
    this.wakeIfSettled();
  }

  /**
   * Stops: nothing new starts, and the running methods get `graceMs` to finish (their done mark
   * is committed, so a restart does not report them). Then the rest are aborted (their signal,
   * with a StopError), and their receipts stay as they are: a restart reports them as
   * interrupted, or redoes them.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    if (!(await this.settled(graceMs))) {
      this.aborted = true;
      this.abortAll();
      await this.settled(5000);
    }
    await Promise.allSettled([...this.finishing]);
  }

  /** Aborted when the node stops for good: whatever still waits (a method waiting on a delivery) ends. */
  get stopSignal(): AbortSignal {
    return this.stopping.signal;
  }

  /** Aborts whatever still runs or waits (idempotent). */
  abortAll(): void {
    if (!this.stopping.signal.aborted) this.stopping.abort(new StopError('the node is stopping'));
  }

  /** Resolves true once nothing runs or is reserved, false after `ms`. */
  private settled(ms: number): Promise<boolean> {
    if (this.running + this.reserved === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.settledWaiters = this.settledWaiters.filter((w) => w !== wake);
        resolve(false);
      }, ms);
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.settledWaiters.push(wake);
    });
  }

  private wakeIfSettled(): void {
    if (this.running + this.reserved > 0 || this.settledWaiters.length === 0) return;
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const w of waiters) w();
  }

  private next(): void {
    while (!this.draining && this.running + this.reserved < this.d.limit && this.queue.length > 0) {
      this.start(this.queue.shift() as Job);
    }
  }

  /**
   * Jobs start in the order their messages were received; each takes its turn for its first
   * reply now, so replies to one subject leave in that order too, while the methods still run
   * `limit` at once. A job that ends without replying passes its turn on; none waits more than
   * REPLY_ORDER_WAIT_MS for the one before.
   */
  private takeTurn(msg: Message, handler: MethodHandler | undefined): Turn | undefined {
    // Commands only (their replies are results a user reads in order); one turn queue per
    // result file, so a slow command never delays the replies that go elsewhere.
    if (msg.replyMethod === NO_REPLY || msg.isReply || handler?.kind !== 'CommandACK') return undefined;
    const key = `${msg.fromNode}\0${msg.replyMethod}\0${msg.directory}\0${msg.fileName}`;
    const before = this.replyTails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.replyTails.set(key, mine);
    void mine.then(() => {
      if (this.replyTails.get(key) === mine) this.replyTails.delete(key);
    });
    return { before, release };
  }

  private start(job: Job): void {
    this.running++;
    const turn = this.takeTurn(job.msg, this.d.methodByName(job.msg.method));
    void this.run(job, turn).finally(() => {
      turn?.release();
      this.running--;
      const waiters = this.active.get(job.msg.id);
      this.active.delete(job.msg.id);
      for (const w of waiters ?? []) w();
      this.next();
      this.wakeIfSettled();
    });
  }

  /** The context whose first reply waits for the replies of the jobs started before. */
  private inTurn(ctx: MethodContext, turn: Turn | undefined): MethodContext {
    if (turn === undefined) return ctx;
    let first = true;
    const reply: MethodContext['reply'] = async (output, seq) => {
      if (!first) return ctx.reply(output, seq);
      first = false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([turn.before, new Promise<void>((resolve) => (timer = setTimeout(resolve, REPLY_ORDER_WAIT_MS)))]);
      clearTimeout(timer);
      // The reply has its place in the outbox's order once the call returns: the next job's
      // reply may follow at once, without waiting for this one to be durable (so replies that
      // come close together are committed and synced together).
      let queued: Promise<void>;
      try {
        queued = ctx.reply(output, seq);
      } finally {
        turn.release();
      }
      await queued;
    };
    // A prototype, not a spread: the context's getters (logger) stay lazy.
    return Object.assign(Object.create(ctx) as MethodContext, { reply });
  }

  private async run({ msg, checkpoint, markedStarted }: Job, turn: Turn | undefined): Promise<void> {
    const handler = this.d.methodByName(msg.method);
    if (handler === undefined) return;
    const tracked = handler.ledger !== false;
    const startedAt = performance.now();
    const run = runSignal(this.stopping.signal, msg.methodTimeoutMs);
    // A method that must not run twice is marked started before its work begins: by itself right
    // before its fork (startsAtFork), else here.
    let marked: Promise<void> | undefined = markedStarted || !tracked || handler.onInterrupted !== 'report' ? Promise.resolve() : undefined;
    const started = (): Promise<void> => (marked ??= this.d.inbox.started(msg.id));
    const ctx = this.d.context(msg, checkpoint, { signal: run.signal, started });
    try {
      if (this.d.beforeRun !== undefined) await this.d.beforeRun(msg);
      if (handler.startsAtFork !== true) await started();
      await handler.run(msg, this.inTurn(ctx, turn));
    } catch (err) {
      this.d.logger.error({ id: msg.id, method: msg.method, err: (err as Error).message }, 'method failed');
      ctx.reportError(`error: ${msg.method} failed on ${msg.toNode}: ${(err as Error).message} (id ${msg.id})`);
    } finally {
      run.dispose();
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

/**
 * One signal per run: aborted when the node stops (its StopError) or at `timeoutMs` (a
 * TimeoutError; <= 0: none). A timer and a listener rather than AbortSignal.any with
 * AbortSignal.timeout, whose sources are held weakly: a timeout signal nobody else refers to
 * may be collected before it fires.
 */
function runSignal(stop: AbortSignal, timeoutMs: number): { signal: AbortSignal; dispose: () => void } {
  if (timeoutMs <= 0) return { signal: stop, dispose: () => undefined };
  const c = new AbortController();
  const onStop = (): void => c.abort(stop.reason);
  const timer = setTimeout(() => c.abort(new DOMException(`methodTimeout of ${timeoutMs / 1000} s reached`, 'TimeoutError')), timeoutMs);
  if (stop.aborted) onStop();
  else stop.addEventListener('abort', onStop, { once: true });
  return {
    signal: c.signal,
    dispose: () => {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    },
  };
}
