import { KINDS } from '../message/message.js';
import { resultPath } from '../store/result-path.js';
import type { MethodHandler } from './method.js';

/** REQPing: writes that a ping arrived and answers with a reply (use replyMethod REQPong for a pong). */
export const ping: MethodHandler = {
  name: 'REQPing',
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  run: async (msg, ctx) => {
    const line = `${new Date().toISOString()}, ping received from ${msg.fromNode}\n`;
    await ctx.files.replace(resultPath(ctx.dataFolder, msg, 'ping.log'), Buffer.from(line));
    await ctx.reply(`${new Date().toISOString()}, ping answered by ${ctx.nodeName}\n`);
  },
};

/** REQPong: records that the pinged node answered. */
export const pong: MethodHandler = {
  name: 'REQPong',
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  run: async (msg, ctx) => {
    const line = `${new Date().toISOString()}, pong received from ${msg.fromNode}\n`;
    await ctx.files.replace(resultPath(ctx.dataFolder, msg, 'pong.log'), Buffer.from(line));
  },
};
