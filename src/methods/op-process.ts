import { didYouMean } from '../lib/closest.js';
import { KINDS, type Message } from '../message/message.js';
import type { MethodContext, MethodHandler, ProcessInfo } from './method.js';

/** Stopping one of these would leave no way to start anything again. */
const UNSTOPPABLE = new Set(['REQOpProcessList', 'REQOpProcessStart', 'REQOpProcessStop']);

const line = (p: ProcessInfo): string => `process: ${p.kind}, id: ${p.id}, name: ${p.subject}`;

/** An error to the sender and central, and the same text as the reply. */
async function fail(msg: Message, ctx: MethodContext, text: string): Promise<void> {
  const full = `error: ${msg.method}: ${text} (id ${msg.id})`;
  ctx.reportError(full);
  await ctx.reply(`${full}\n`);
}

/** REQOpProcessList: one line per subscriber and per publisher delivering now, sorted. */
export const opProcessList: MethodHandler = {
  name: 'REQOpProcessList',
  kind: KINDS.CommandACK,
  onInterrupted: 'redo',
  run: async (msg, ctx) => {
    const { processes } = ctx.node;
    await ctx.reply(
      processes
        .list()
        .map((p) => `${line(p)}\n`)
        .join(''),
    );
  },
};

/** REQOpProcessStart `[method]`: starts the method's subscriber on this node. */
export const opProcessStart: MethodHandler = {
  name: 'REQOpProcessStart',
  kind: KINDS.CommandACK,
  onInterrupted: 'report',
  run: async (msg, ctx) => {
    const { processes } = ctx.node;
    if (msg.methodArgs.length !== 1 || msg.methodArgs[0] === '') {
      await fail(msg, ctx, `methodArgs must be [method], e.g. ["REQHttpGet"], got ${JSON.stringify(msg.methodArgs)}`);
      return;
    }
    const method = msg.methodArgs[0] as string;
    const r = processes.start(method);
    if (r === undefined) {
      await fail(msg, ctx, `unknown method ${JSON.stringify(method)}${didYouMean(method, processes.methods)}`);
      return;
    }
    await ctx.reply(
      r.started
        ? `info: REQOpProcessStart: started ${line(r.process)} on ${ctx.nodeName}\n`
        : `info: REQOpProcessStart: already running ${line(r.process)} on ${ctx.nodeName}\n`,
    );
  },
};

/**
 * REQOpProcessStop `[method]` or the seed's `[method, node, kind, id]`: stops the method's
 * subscriber on this node. The node must be this one, the kind `subscriber`, and the id (when
 * not empty) the running subscriber's.
 */
export const opProcessStop: MethodHandler = {
  name: 'REQOpProcessStop',
  kind: KINDS.CommandACK,
  onInterrupted: 'report',
  run: async (msg, ctx) => {
    const { processes } = ctx.node;
    const args = msg.methodArgs;
    if (!(args.length === 1 || args.length === 3 || args.length === 4) || args[0] === '') {
      await fail(
        msg,
        ctx,
        `methodArgs must be [method] or [method, node, kind, id], e.g. ["REQHttpGet","${ctx.nodeName}","subscriber","3"], got ${JSON.stringify(args)}`,
      );
      return;
    }
    const [method = '', node, kind, id] = args;
    if (!processes.methods.includes(method)) {
      await fail(msg, ctx, `unknown method ${JSON.stringify(method)}${didYouMean(method, processes.methods)}`);
      return;
    }
    if (UNSTOPPABLE.has(method)) {
      await fail(msg, ctx, `${method} cannot be stopped: it would leave no way to start a subscriber again`);
      return;
    }
    if (node !== undefined && node !== ctx.nodeName) {
      await fail(msg, ctx, `node ${JSON.stringify(node)} is not this node (${ctx.nodeName}); send the message to that node`);
      return;
    }
    if (kind !== undefined && kind !== 'subscriber') {
      await fail(msg, ctx, `only a subscriber can be stopped, not ${JSON.stringify(kind)} (a publisher ends when its queue is empty)`);
      return;
    }
    const running = processes.subscriber(method);
    if (running === undefined) {
      await fail(msg, ctx, `no subscriber for ${method} is running on ${ctx.nodeName}`);
      return;
    }
    if (id !== undefined && id !== '' && id !== String(running.id)) {
      await fail(msg, ctx, `the subscriber for ${method} has id ${running.id}, not ${JSON.stringify(id)}`);
      return;
    }
    const stopped = processes.stop(method);
    if (stopped === undefined) {
      await fail(msg, ctx, `no subscriber for ${method} is running on ${ctx.nodeName}`);
      return;
    }
    await ctx.reply(`info: REQOpProcessStop: stopped ${line(stopped)} on ${ctx.nodeName}\n`);
  },
};
