import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { SpawnHelperMode } from '../config/schema.js';
import { capped, startCommand } from './command.js';
import { encodeFrame, FRAME, FrameReader, type SpawnRequest } from './frames.js';

/**
 * The helper runs little JavaScript and forks a lot: a fork copies the page tables of what the
 * process maps, so it keeps its heap small (a 1 MB young generation) and runs no V8 threads of
 * its own. B2 measured its CPU per 1000 commands at 0.87-0.91 s with these against 0.97-1.01 s
 * without.
 */
const HELPER_NODE_FLAGS = ['--max-semi-space-size=1', '--single-threaded'];

/** In `auto`, the helper is started once this many commands run at once. */
const AUTO_AT = 4;
/**
 * Commands handed over at most at once: marked started (see `beforeStart`) and given to fork
 * (here or to the helper) but not yet known to run. Should the node or the helper die, only
 * these may or may not have started; the ones still held here have not, and run after a restart.
 */
export const HANDOVER_AT_MOST = 8;
/** The helper exits after this long without a command running. */
const HELPER_IDLE_MS = 10_000;

/** What happens to one command, as it happens. */
export interface SpawnEvents {
  /** It started, as process (group) `pid`. */
  pid(pid: number): void;
  output(chunk: Buffer, stream: 'stdout' | 'stderr'): void;
  /** A pipe reached its end. */
  end(stream: 'stdout' | 'stderr'): void;
  exit(code: number | null, signal: NodeJS.Signals | null): void;
  /**
   * It could not be started (`lost` false), or the helper running it stopped (`lost` true: it may
   * have run, may still be running, and nothing more will be heard of it).
   */
  error(message: string, lost: boolean): void;
}

/** A command started by the spawner. */
export interface Spawned {
  /** Stops reading its pipes (after its exit, when background children keep them open). */
  close(): void;
}

export interface SpawnerOptions {
  readonly mode: SpawnHelperMode;
  readonly logger: Logger;
}

/** One command to start, wherever it is started. */
interface Job {
  readonly req: SpawnRequest;
  readonly events: SpawnEvents;
  /** Made durable before the command is handed to fork (its receipt marked started). */
  readonly beforeStart: (() => Promise<void>) | undefined;
  /**
   * held: not handed over yet; marking: its beforeStart runs; sent: to the helper, unanswered;
   * started: it runs (or could not start).
   */
  state: 'held' | 'marking' | 'sent' | 'started';
  /** Stops reading its pipes, where it runs now. */
  close: () => void;
}

/** The helper process and the commands it runs for us. */
interface Helper {
  readonly proc: ChildProcess;
  readonly jobs: Map<number, Job>;
  /** The helper process was started (its jobs may have run should it die). */
  started: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * Starts the commands of a node's methods. Forking blocks the event loop for a time that grows
 * with the memory of the process (about 0.8 ms for a bare node here, 1.6 ms for a node in a
 * burst of commands), so under load commands are forked by a small helper process
 * (helper-main.ts) instead, on the other core. A lone command is forked here: no extra process
 * and no extra memory for a node that runs a command now and then.
 */
export class Spawner {
  private helper: Helper | undefined;
  private nextId = 1;
  /** Commands running (started here or by the helper). */
  private running = 0;
  /** The environment commands get: copied once (reading process.env costs on every spawn). */
  private readonly baseEnv: NodeJS.ProcessEnv = { ...process.env };
  private stopped = false;
  private helperBroken = false;
  /** Jobs not handed over yet, in order. */
  private readonly held: Job[] = [];
  /** Jobs handed over and not yet known to run (at most HANDOVER_AT_MOST). */
  private handing = 0;

  constructor(private readonly opts: SpawnerOptions) {}

  /**
   * Starts a command. `beforeStart` runs (and is awaited) right before it is handed to fork:
   * the caller makes "it may have run" durable there, for at most HANDOVER_AT_MOST commands at a
   * time, so a crash leaves the ones still held known not to have run.
   */
  spawn(req: SpawnRequest, events: SpawnEvents, beforeStart?: () => Promise<void>): Spawned {
    this.running++;
    let done = false;
    const finished = (): void => {
      if (done) return;
      done = true;
      this.running--;
      this.idleLater();
    };
    const tracked: SpawnEvents = {
      ...events,
      exit: (code, signal) => {
        finished();
        events.exit(code, signal);
      },
      error: (message, lost) => {
        finished();
        events.error(message, lost);
      },
    };
    const job: Job = { req, events: tracked, beforeStart, state: 'held', close: () => undefined };
    this.held.push(job);
    this.handOver();
    return { close: () => job.close() };
  }

  /** Hands held jobs over while fewer than HANDOVER_AT_MOST are between their mark and their start. */
  private handOver(): void {
    while (this.handing < HANDOVER_AT_MOST && this.held.length > 0) {
      const job = this.held.shift() as Job;
      if (this.stopped) {
        job.events.error('the node is stopping: the command was not started', false);
        continue;
      }
      this.handing++;
      job.state = 'marking';
      const marked = job.beforeStart?.() ?? Promise.resolve();
      marked.then(
        () => {
          if (this.stopped) return this.handed(job, 'the node is stopping: the command was not started');
          if (this.useHelper()) this.viaHelper(job);
          else this.direct(job);
        },
        (err: unknown) => this.handed(job, `cannot record that it starts: ${(err as Error).message}`),
      );
    }
  }

  /** A job handed over is known to run (or could not start, `error`): the next one may go. */
  private handed(job: Job, error?: string): void {
    if (job.state === 'started') return;
    job.state = 'started';
    this.handing--;
    if (error !== undefined) job.events.error(error, false);
    this.handOver();
  }

  /** Ends the helper (commands it runs go on in their own process groups). */
  stop(): void {
    this.stopped = true;
    this.endHelper();
  }

  private useHelper(): boolean {
    if (this.stopped || this.helperBroken || this.opts.mode === 'off') return false;
    if (this.opts.mode === 'on' || this.helper !== undefined) return true;
    return this.running >= AUTO_AT;
  }

  private direct(job: Job): void {
    const { req, events } = job;
    let child: ChildProcess;
    try {
      child = startCommand(req, this.baseEnv);
    } catch (err) {
      job.close = () => undefined;
      this.handed(job);
      queueMicrotask(() => events.error((err as Error).message, false));
      return;
    }
    // Forked: it runs (or its exec fails, reported by its own error event).
    this.handed(job);
    const pipes = [child.stdout, child.stderr] as const;
    child.once('spawn', () => events.pid(child.pid as number));
    child.once('error', (err) => events.error(err.message, false));
    for (const [i, s] of pipes.entries()) {
      const name = i === 0 ? 'stdout' : 'stderr';
      const pass = capped(i === 0 ? req.stdoutCap : req.stderrCap);
      s?.on('data', (b: Buffer) => {
        const part = pass(b);
        if (part !== undefined) events.output(part, name);
      });
      s?.once('end', () => events.end(name));
    }
    child.once('exit', (code, signal) => events.exit(code, signal));
    job.close = () => {
      for (const s of pipes) s?.destroy();
    };
  }

  private viaHelper(job: Job): void {
    const helper = this.ensureHelper();
    const id = this.nextId++;
    job.state = 'sent';
    helper.jobs.set(id, job);
    job.close = () => {
      if (this.helper === helper && helper.jobs.delete(id)) helper.proc.stdin?.write(encodeFrame(FRAME.close, id));
    };
    if (helper.idleTimer !== undefined) {
      clearTimeout(helper.idleTimer);
      helper.idleTimer = undefined;
    }
    helper.proc.stdin?.write(encodeFrame(FRAME.spawn, id, JSON.stringify(job.req)));
  }

  private ensureHelper(): Helper {
    if (this.helper !== undefined) return this.helper;
    const proc = spawn(process.execPath, [...HELPER_NODE_FLAGS, fileURLToPath(new URL('./helper-main.js', import.meta.url))], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: this.baseEnv,
    });
    const helper: Helper = { proc, jobs: new Map(), started: false, idleTimer: undefined };
    this.helper = helper;
    const reader = new FrameReader((type, id, payload) => this.onFrame(helper, type, id, payload));
    proc.stdout?.on('data', (b: Buffer) => reader.push(b));
    proc.stdin?.on('error', () => undefined); // its end is seen as its exit
    proc.once('spawn', () => {
      helper.started = true;
      this.opts.logger.info({ pid: proc.pid }, 'spawn helper started');
    });
    proc.once('error', (err) => {
      // It never ran: nothing it was given ran either; they are started here instead.
      this.opts.logger.warn({ err: err.message }, 'the spawn helper could not start: commands are forked by the node itself');
      this.helperBroken = true;
      this.helperGone(helper, undefined);
    });
    proc.once('exit', (code, signal) => {
      if (!helper.started) return;
      if (helper.jobs.size > 0)
        this.opts.logger.error({ code, signal, commands: helper.jobs.size }, 'the spawn helper stopped while commands ran');
      this.helperGone(
        helper,
        `the spawn helper stopped (${signal ?? `exit code ${code}`}) while the command ran: it may have run, its outcome is unknown`,
      );
    });
    return helper;
  }

  private onFrame(helper: Helper, type: number, id: number, payload: Buffer): void {
    const job = helper.jobs.get(id);
    if (job === undefined) return; // closed by us meanwhile
    const ev = job.events;
    switch (type) {
      case FRAME.pid:
        this.handed(job);
        ev.pid((JSON.parse(payload.toString('utf8')) as { pid: number }).pid);
        break;
      case FRAME.stdout:
        ev.output(payload, 'stdout');
        break;
      case FRAME.stderr:
        ev.output(payload, 'stderr');
        break;
      case FRAME.end:
        ev.end(payload[0] === 0 ? 'stdout' : 'stderr');
        break;
      case FRAME.exit: {
        const { code, signal } = JSON.parse(payload.toString('utf8')) as { code: number | null; signal: NodeJS.Signals | null };
        ev.exit(code, signal);
        break;
      }
      case FRAME.error:
        this.handed(job);
        helper.jobs.delete(id);
        ev.error(payload.toString('utf8'), false);
        break;
    }
  }

  /**
   * The helper is gone. The jobs it had end with `lostMessage` (they may have run); when it never
   * ran, they are started here instead (they are marked already, and known not to have run).
   */
  private helperGone(helper: Helper, lostMessage: string | undefined): void {
    if (this.helper === helper) this.helper = undefined;
    if (helper.idleTimer !== undefined) clearTimeout(helper.idleTimer);
    const jobs = [...helper.jobs.values()];
    helper.jobs.clear();
    for (const job of jobs) {
      if (lostMessage !== undefined) {
        if (job.state === 'sent') this.handed(job);
        job.events.error(lostMessage, true);
      } else if (this.stopped) this.handed(job, 'the node is stopping: the command was not started');
      else if (job.state === 'sent') this.direct(job);
    }
  }

  /** Once nothing runs, the helper is ended after HELPER_IDLE_MS (started again when needed). */
  private idleLater(): void {
    const helper = this.helper;
    if (helper === undefined || this.running > 0 || helper.idleTimer !== undefined) return;
    helper.idleTimer = setTimeout(() => {
      helper.idleTimer = undefined;
      if (this.running === 0) this.endHelper();
    }, HELPER_IDLE_MS);
    helper.idleTimer.unref();
  }

  private endHelper(): void {
    const helper = this.helper;
    if (helper === undefined) return;
    this.helper = undefined;
    if (helper.idleTimer !== undefined) clearTimeout(helper.idleTimer);
    helper.proc.stdin?.end();
  }
}
