import { END_PREFIX } from '../message/limits.js';
import { KINDS } from '../message/message.js';
import { endedBy, type MethodHandler } from './method.js';
import { batchCapBytes, ReplyStream } from './reply-stream.js';
import { commandLine, runCommand } from './run-command.js';

/** Marks a line the command wrote to stderr, in the same stream as its stdout. */
export const STDERR_PREFIX = '[stderr] ';

/**
 * REQCliCommandCont: runs a command and streams its stdout and stderr while it runs, as
 * numbered replies of whole lines (batched by a short window and a size cap). It ends when
 * the command exits, or at methodTimeout (-1: no limit) by killing its process group; a last
 * line tells how it ended, and a non-zero exit or a timeout also goes to the central error log.
 */
export const cliCommandCont: MethodHandler = {
  name: 'REQCliCommandCont',
  kind: KINDS.CommandACK,
  onInterrupted: 'report',
  startsAtFork: true,
  run: async (msg, ctx) => {
    if (msg.methodArgs.length === 0 || msg.methodArgs[0] === '') {
      ctx.reportError(
        `error: REQCliCommandCont: methodArgs is empty: give the command and its arguments, e.g. ["bash","-c","tail -f /var/log/syslog"] (id ${msg.id})`,
      );
      return;
    }
    const args = msg.methodArgs.join(' ');
    const line = commandLine(msg);
    const stream = new ReplyStream(ctx, { capBytes: batchCapBytes(ctx.maxPayload) });
    const r = await runCommand(ctx.node.spawner, line.args, {
      maxOutputBytes: 0,
      signal: ctx.signal,
      beforeStart: () => ctx.started(),
      ...(line.env === undefined ? {} : { env: line.env }),
      onOutput: (chunk, from) => stream.write(chunk, from === 'stderr' ? STDERR_PREFIX : ''),
    });
    if (r.spawnError !== undefined) {
      const text = `error: REQCliCommandCont: cannot run ${JSON.stringify(msg.methodArgs[0])}: ${r.spawnError}, methodArgs: ${args} (id ${msg.id})`;
      ctx.reportError(text);
      await stream.end(`${END_PREFIX}${text}`);
      return;
    }
    let end: string;
    if (r.lostError !== undefined) {
      end = r.lostError;
      ctx.reportError(`error: REQCliCommandCont: ${end}, methodArgs: ${args} (id ${msg.id})`);
    } else if (r.timedOut) {
      end = `method timed out after ${msg.methodTimeoutMs / 1000} s and was killed`;
      ctx.reportError(`error: REQCliCommandCont: ${end}, methodArgs: ${args} (id ${msg.id})`);
    } else if (endedBy(ctx.signal) === 'stopping') {
      end = `stopped: node ${ctx.nodeName} is stopping`;
    } else if (r.code !== 0) {
      end = r.signal !== null ? `command was killed by ${r.signal}` : `command exited with code ${r.code}`;
      ctx.reportError(`error: REQCliCommandCont: ${end}, methodArgs: ${args}, error_output: ${r.stderr.trim()} (id ${msg.id})`);
    } else {
      end = 'command exited with code 0';
    }
    await stream.end(`${END_PREFIX}REQCliCommandCont ended: ${end}`);
  },
};
