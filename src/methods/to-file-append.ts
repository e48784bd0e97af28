import { KINDS, type Message } from '../message/message.js';
import { resultPath } from '../store/result-path.js';
import type { MethodHandler } from './method.js';
import { abandonAppend, planAppend, recoverAppend, runAppend, type AppendTarget } from './planned-append.js';

const target: AppendTarget = {
  file: (msg, dataFolder) => resultPath(dataFolder, msg, `${msg.previousMessage?.method ?? msg.method}.result`),
  bytes: (msg: Message) => Buffer.from(msg.data.join('')),
};

/** REQToFileAppend: appends the message data to its result file, exactly once. */
export const toFileAppend: MethodHandler = {
  name: 'REQToFileAppend',
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  plan: (msg, ctx) => planAppend(target, msg, ctx),
  abandon: abandonAppend,
  recover: (cp, msg, files) => recoverAppend(target, cp, msg, files),
  run: async (msg, ctx) => runAppend(target, msg, ctx),
};
