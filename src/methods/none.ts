import { KINDS } from '../message/message.js';
import type { MethodHandler } from './method.js';

/** REQNone: does nothing. As a replyMethod it means "send no reply". */
export const none: MethodHandler = {
  name: 'REQNone',
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  run: async () => {},
};
