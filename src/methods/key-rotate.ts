import { KINDS } from '../message/message.js';
import type { MethodHandler } from './method.js';

/** The method a node sends when it rotates its key (`steward keys rotate`); see docs/security.md. */
export const KEY_ROTATE_METHOD = 'REQKeyRotate';

/**
 * REQKeyRotate: the sending node tells this one its new key. The message is proven by its
 * current key, and its data holds the new key and the new key's signature of the change; the
 * node then binds the new key (the old one is still accepted for a grace time).
 */
export const keyRotate: MethodHandler = {
  name: KEY_ROTATE_METHOD,
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  run: async (msg, ctx) => {
    const error = await ctx.node.peerRotated(msg.fromNode, msg.data);
    if (error !== undefined) ctx.reportError(`error: ${KEY_ROTATE_METHOD} from ${msg.fromNode}: ${error} (id ${msg.id})`);
  },
};
