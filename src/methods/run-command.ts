import type { Message } from '../message/message.js';
import type { Spawner } from '../spawn/spawner.js';
import { endedBy } from './method.js';
/**
 * After the command exits while background children of its group still hold the pipes, how
 * long to wait for their output before replying without it.
 */
const DRAIN_MS = 200;
/** After the command exits with no process of its group left, the longest wait for the pipes' end. */
const PIPE_END_MAX_MS = 10_000;
/** After SIGTERM to the process group, how long before SIGKILL. */
const KILL_GRACE_MS = 2000;

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  truncated: boolean;
  /** It could not be started. */
  spawnError?: string;
  /** What ran it stopped while it ran: whether it ran, and how it ended, is unknown. */
  lostError?: string;
}

/** Bytes of stderr kept for the error report. */
const STDERR_KEPT = 64 * 1024;

/**
 * Runs `args[0]` with `args[1..]` (no shell unless the command is one) in its own process
 * group, started by `spawner`. When `signal` is aborted (the methodTimeout, or the node stops)
 * the whole group is terminated. Resolves when the command exits: output of background children
 * that keep the pipes open is not waited for.
 */
export function runCommand(
  spawner: Spawner,
  args: readonly string[],
  opts: {
    /** Aborted at the methodTimeout (the result says timedOut) or when the node stops. */
    signal: AbortSignal;
    /** Awaited right before the command is handed to fork (see Spawner.spawn). */
    beforeStart?: () => Promise<void>;
    /** Bytes of stdout kept (the rest is read and dropped); ignored with onOutput. */
    maxOutputBytes: number;
    /** Variables added to the node's environment. */
    env?: Record<string, string>;
    /** Streams the output as it comes; stdout is then not collected in the result. */
    onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  },
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const [cmd, ...rest] = args as [string, ...string[]];
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    let timedOut = false;
    let finished = false;
    let pid: number | undefined;
    /** A signal asked for before the command's pid was known. */
    let pendingSignal: NodeJS.Signals | undefined;
    const open = new Set<'stdout' | 'stderr'>(['stdout', 'stderr']);
    let drainTimer: NodeJS.Timeout | undefined;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const killGroup = (sig: NodeJS.Signals): void => {
      if (pid === undefined) {
        pendingSignal = sig;
        return;
      }
      try {
        process.kill(-pid, sig);
      } catch {
        // The group is already gone.
      }
    };
    /** Some process of the command's group (a background child) is still there. */
    const groupAlive = (): boolean => {
      if (pid === undefined) return false;
      try {
        process.kill(-pid, 0);
        return true;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'EPERM';
      }
    };
    const terminate = (): void => {
      timedOut = endedBy(opts.signal) === 'timeout';
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
    };
    opts.signal.addEventListener('abort', terminate, { once: true });
    const finish = (code: number | null, signal: NodeJS.Signals | null, failure?: { spawnError?: string; lostError?: string }): void => {
      if (finished) return;
      finished = true;
      if (drainTimer !== undefined) clearTimeout(drainTimer);
      opts.signal.removeEventListener('abort', terminate);
      spawned.close();
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code,
        signal,
        timedOut,
        truncated,
        ...failure,
      });
    };
    if (opts.signal.aborted) terminate();
    const spawned = spawner.spawn(
      {
        cmd,
        args: rest,
        ...(opts.env === undefined ? {} : { env: opts.env }),
        stdoutCap: opts.onOutput === undefined ? opts.maxOutputBytes : -1,
        stderrCap: opts.onOutput === undefined ? STDERR_KEPT : -1,
      },
      {
        pid: (p) => {
          pid = p;
          if (pendingSignal !== undefined) killGroup(pendingSignal);
        },
        output: (b, stream) => {
          if (opts.onOutput !== undefined) {
            opts.onOutput(b, stream);
            if (stream === 'stdout') return;
          }
          if (stream === 'stderr') {
            if (errBytes < STDERR_KEPT) err.push(b.subarray(0, STDERR_KEPT - errBytes));
            errBytes += b.length;
            return;
          }
          if (outBytes + b.length > opts.maxOutputBytes) {
            truncated = true;
            b = b.subarray(0, Math.max(0, opts.maxOutputBytes - outBytes));
          }
          outBytes += b.length;
          if (b.length > 0) out.push(b);
        },
        end: (stream) => {
          open.delete(stream);
          if (exited !== undefined && open.size === 0) finish(exited.code, exited.signal);
        },
        exit: (code, signal) => {
          exited = { code, signal };
          if (open.size === 0) return finish(code, signal);
          // The exit can arrive before the output the command wrote just before it (the helper
          // reports both as they come). With no process of the group left, nothing holds the
          // pipes open, so their end is near: wait for it, however busy the machine. Background
          // children still holding them are not waited for beyond a moment (DRAIN_MS).
          const exitAt = Date.now();
          const check = (): void => {
            if (groupAlive() || Date.now() - exitAt > PIPE_END_MAX_MS) setImmediate(() => finish(code, signal));
            else drainTimer = setTimeout(check, DRAIN_MS);
          };
          drainTimer = setTimeout(check, DRAIN_MS);
        },
        error: (message, lost) => finish(null, null, lost ? { lostError: message } : { spawnError: message }),
      },
      opts.beforeStart,
    );
  });
}

/** The template a command's arguments use to take the data of the message (a reply's output). */
export const DATA_TEMPLATE = '{{STEWARD_DATA}}';

/**
 * The command line and environment for a message: each argument containing
 * `{{STEWARD_DATA}}` gets it replaced by `$STEWARD_DATA`, and the environment is this node's
 * with `STEWARD_DATA` set to the message's data (so a shell expands it, without quoting
 * trouble). Unlike the Go Steward, PATH and the rest of the environment are kept.
 */
export function commandLine(msg: Message): { args: string[]; env?: Record<string, string> } {
  if (!msg.methodArgs.some((a) => a.includes(DATA_TEMPLATE))) return { args: msg.methodArgs };
  return {
    args: msg.methodArgs.map((a) => a.replaceAll(DATA_TEMPLATE, '$STEWARD_DATA')),
    env: { STEWARD_DATA: msg.data.join('') },
  };
}
