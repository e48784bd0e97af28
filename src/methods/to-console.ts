import { KINDS } from '../message/message.js';
import type { MethodHandler } from './method.js';

/** REQToConsole: prints the message data on the daemon's stdout (logs go to stderr). */
export const toConsole: MethodHandler = {
  name: 'REQToConsole',
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  run: async (msg) => {
    for (const d of msg.data) process.stdout.write(d.endsWith('\n') ? d : `${d}\n`);
  },
};
