import { spawn } from 'node:child_process';
import { KINDS, type Message } from '../message/message.js';
import type { MethodHandler } from './method.js';

/** Room left in a reply for the message around the output. */
const REPLY_OVERHEAD = 16 * 1024;
/** After the command exits, how long to wait for output still in the pipes. */
const DRAIN_MS = 200;
/** After SIGTERM to the process group, how long before SIGKILL. */
const KILL_GRACE_MS = 2000;

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  truncated: boolean;
  spawnError?: string;
}

/**
 * Runs `args[0]` with `args[1..]` (no shell unless the command is one) in its own process
 * group. On timeout (`timeoutMs` <= 0: none) or abort the whole group is terminated.
 * Resolves when the command exits: output
 * of background children that keep the pipes open is not waited for.
 */
export function runCommand(
  args: readonly string[],
  opts: {
    timeoutMs: number;
    maxOutputBytes: number;
    env?: NodeJS.ProcessEnv;
    signal?: AbortSignal;
    /** Streams the output as it comes; stdout is then not collected in the result. */
    onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  },
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const [cmd, ...rest] = args as [string, ...string[]];
    const child = spawn(cmd, rest, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    let timedOut = false;
    let finished = false;
    child.stdout.on('data', (b: Buffer) => {
      if (opts.onOutput !== undefined) return opts.onOutput(b, 'stdout');
      if (outBytes + b.length > opts.maxOutputBytes) {
        truncated = true;
        b = b.subarray(0, Math.max(0, opts.maxOutputBytes - outBytes));
      }
      outBytes += b.length;
      if (b.length > 0) out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      opts.onOutput?.(b, 'stderr');
      if (errBytes < 64 * 1024) err.push(b.subarray(0, 64 * 1024 - errBytes));
      errBytes += b.length;
    });
    const killGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // The group is already gone.
      }
    };
    const terminate = (): void => {
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
    };
    const timer =
      opts.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            terminate();
          }, opts.timeoutMs)
        : undefined;
    const onAbort = (): void => terminate();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void => {
      if (finished) return;
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        code,
        signal,
        timedOut,
        truncated,
        ...(spawnError === undefined ? {} : { spawnError }),
      });
    };
    child.on('error', (e) => finish(null, null, e.message));
    child.on('exit', (code, signal) => {
      // Give the pipes a moment to deliver what the command wrote just before exiting.
      const done = (): void => finish(code, signal);
      let open = 0;
      const onEnd = (): void => {
        if (--open === 0) {
          clearTimeout(t);
          done();
        }
      };
      for (const s of [child.stdout, child.stderr]) {
        if (s.readableEnded) continue;
        open++;
        s.once('end', onEnd);
      }
      if (open === 0) return done();
      // The exit can be seen before the output is read, and a busy event loop can let this
      // timer run before it: setImmediate lets one more I/O poll read what the pipes hold.
      const t = setTimeout(() => setImmediate(done), DRAIN_MS);
    });
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
export function commandLine(msg: Message): { args: string[]; env?: NodeJS.ProcessEnv } {
  if (!msg.methodArgs.some((a) => a.includes(DATA_TEMPLATE))) return { args: msg.methodArgs };
  return {
    args: msg.methodArgs.map((a) => a.replaceAll(DATA_TEMPLATE, '$STEWARD_DATA')),
    env: { ...process.env, STEWARD_DATA: msg.data.join('') },
  };
}

/**
 * REQCliCommand: runs a command and replies with its stdout when it ends. A failure (cannot
 * start, non-zero exit, timeout) is also sent to the central error log, with stderr.
 */
export const cliCommand: MethodHandler = {
  name: 'REQCliCommand',
  kind: KINDS.CommandACK,
  onInterrupted: 'report',
  run: async (msg, ctx) => {
    if (msg.methodArgs.length === 0 || msg.methodArgs[0] === '') {
      ctx.reportError(`error: REQCliCommand: methodArgs is empty: give the command and its arguments, e.g. ["bash","-c","uptime"] (id ${msg.id})`);
      return;
    }
    const args = msg.methodArgs.join(' ');
    const line = commandLine(msg);
    const r = await runCommand(line.args, {
      timeoutMs: msg.methodTimeoutMs,
      ...(line.env === undefined ? {} : { env: line.env }),
      maxOutputBytes: Math.max(1024, ctx.maxPayload - REPLY_OVERHEAD),
      signal: ctx.signal,
    });
    if (r.spawnError !== undefined) {
      ctx.reportError(`error: REQCliCommand: cannot run ${JSON.stringify(msg.methodArgs[0])}: ${r.spawnError}, methodArgs: ${args} (id ${msg.id})`);
      return;
    }
    if (r.timedOut) {
      ctx.reportError(`error: REQCliCommand: method timed out after ${msg.methodTimeoutMs / 1000} s and was killed, methodArgs: ${args} (id ${msg.id})`);
    } else if (r.code !== 0) {
      const how = r.signal !== null ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
      ctx.reportError(`error: REQCliCommand: command ${how}, methodArgs: ${args}, error_output: ${r.stderr.trim()} (id ${msg.id})`);
    }
    if (r.truncated) {
      ctx.reportError(`error: REQCliCommand: output larger than the broker's max payload, only the first ${ctx.maxPayload - REPLY_OVERHEAD} bytes are sent, methodArgs: ${args} (id ${msg.id})`);
    }
    if (ctx.signal.aborted) return;
    await ctx.reply(r.stdout);
  },
};
