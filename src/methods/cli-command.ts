import { maxOutputBytes } from '../message/limits.js';
import { KINDS } from '../message/message.js';
import { endedBy, type MethodHandler } from './method.js';
import { commandLine, runCommand } from './run-command.js';

/**
 * REQCliCommand: runs a command and replies with its stdout when it ends. A failure (cannot
 * start, non-zero exit, timeout) is also sent to the central error log, with stderr.
 */
export const cliCommand: MethodHandler = {
  name: 'REQCliCommand',
  kind: KINDS.CommandACK,
  onInterrupted: 'report',
  startsAtFork: true,
  run: async (msg, ctx) => {
    if (msg.methodArgs.length === 0 || msg.methodArgs[0] === '') {
      ctx.reportError(
        `error: REQCliCommand: methodArgs is empty: give the command and its arguments, e.g. ["bash","-c","uptime"] (id ${msg.id})`,
      );
      return;
    }
    const args = msg.methodArgs.join(' ');
    const line = commandLine(msg);
    const maxBytes = maxOutputBytes(ctx.maxPayload);
    const r = await runCommand(ctx.node.spawner, line.args, {
      ...(line.env === undefined ? {} : { env: line.env }),
      maxOutputBytes: maxBytes,
      signal: ctx.signal,
      beforeStart: () => ctx.started(),
    });
    if (r.spawnError !== undefined) {
      ctx.reportError(
        `error: REQCliCommand: cannot run ${JSON.stringify(msg.methodArgs[0])}: ${r.spawnError}, methodArgs: ${args} (id ${msg.id})`,
      );
      return;
    }
    if (r.lostError !== undefined) {
      ctx.reportError(`error: REQCliCommand: ${r.lostError}; no reply is sent, methodArgs: ${args} (id ${msg.id})`);
      return;
    }
    if (r.timedOut) {
      ctx.reportError(
        `error: REQCliCommand: method timed out after ${msg.methodTimeoutMs / 1000} s and was killed, methodArgs: ${args} (id ${msg.id})`,
      );
    } else if (r.code !== 0) {
      const how = r.signal !== null ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
      ctx.reportError(`error: REQCliCommand: command ${how}, methodArgs: ${args}, error_output: ${r.stderr.trim()} (id ${msg.id})`);
    }
    if (r.truncated) {
      ctx.reportError(
        `error: REQCliCommand: output larger than the broker's max payload, only the first ${maxBytes} bytes are sent, methodArgs: ${args} (id ${msg.id})`,
      );
    }
    if (endedBy(ctx.signal) === 'stopping') return;
    await ctx.reply(r.stdout);
  },
};
