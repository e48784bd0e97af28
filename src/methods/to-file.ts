import { KINDS } from '../message/message.js';
import { resultPath } from '../store/result-path.js';
import type { MethodHandler } from './method.js';

/** REQToFile: replaces the result file with the message data (atomically). */
export const toFile: MethodHandler = {
  name: 'REQToFile',
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  run: async (msg, ctx) => {
    const file = resultPath(ctx.dataFolder, msg, `${msg.previousMessage?.method ?? msg.method}.result`);
    await ctx.files.replace(file, Buffer.from(msg.data.join('')));
  },
};
