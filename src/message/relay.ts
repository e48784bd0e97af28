import { partId } from './id.js';
import { RELAY_METHOD, REPLY_METHODS, type Message } from './message.js';

/**
 * Relaying, the seed's six steps: a message given `relayViaNode` on node1 for node2 becomes a
 * REQRelayInitial on node1 (step 1), which sends it as REQRelay to the relay node (central);
 * central sends the original message on to node2 (step 2); node2 runs it and replies to central
 * (steps 3, 4); central copies each reply back to node1 with `relayReplyMethod`, and handles the
 * reply itself as well (step 5); node1 runs the copy (step 6). Each hop is a durable message with
 * an id derived from the first, so a redo after a restart does not send a hop twice.
 */
export const RELAY_INITIAL_METHOD = 'REQRelayInitial';
export { RELAY_METHOD };

/** Step 1, at the input of node1: the message to run locally as REQRelayInitial (undefined: not relayed). */
export function relayInitial(msg: Message, nodeName: string): Message | undefined {
  if (msg.relayViaNode === '' || msg.relayViaNode === nodeName) return undefined;
  return {
    ...msg,
    relayFromNode: nodeName,
    relayToNode: msg.toNode,
    relayOriginalViaNode: msg.relayViaNode,
    relayOriginalMethod: msg.method,
    method: RELAY_INITIAL_METHOD,
    toNode: nodeName,
    relayViaNode: '',
  };
}

/** Step 1, the REQRelayInitial handler on node1: the REQRelay message for the relay node. */
export function relayToVia(msg: Message, nodeName: string): Message {
  return {
    ...msg,
    id: partId(msg.id, 'relay'),
    method: RELAY_METHOD,
    toNode: msg.relayOriginalViaNode ?? '',
    fromNode: nodeName,
    createdMs: Date.now(),
  };
}

/** Step 2, the REQRelay handler on the relay node: the original message, for its target. */
export function relayOnward(msg: Message, nodeName: string): Message {
  return {
    ...msg,
    id: partId(msg.id, 'fwd'),
    method: msg.relayOriginalMethod ?? '',
    toNode: msg.relayToNode ?? '',
    fromNode: nodeName,
    relayOriginalViaNode: nodeName,
    createdMs: Date.now(),
  };
}

/**
 * Step 5, on the relay node for each reply it receives: the copy for the node the relayed
 * message came from, run there with `relayReplyMethod` (the request's reply method when none was
 * given), which must be a reply method (REPLY_METHODS). Undefined when the reply is not about a
 * message this node relayed. `reply` is the reply as matched to this node's own stored request.
 */
export function relayBack(reply: Message, nodeName: string, validNode: (name: string) => boolean): Message | undefined {
  const prev = reply.previousMessage;
  if (!reply.isReply || prev === undefined || prev.relayOriginalViaNode !== nodeName) return undefined;
  const origin = prev.relayFromNode;
  if (typeof origin !== 'string' || !validNode(origin)) return undefined;
  const method = typeof prev.relayReplyMethod === 'string' && prev.relayReplyMethod !== '' ? prev.relayReplyMethod : reply.method;
  // A copied reply is handled by a method that runs nothing on the node it goes to.
  if (!REPLY_METHODS.has(method)) return undefined;
  return {
    ...reply,
    id: partId(reply.id, 'back'),
    toNode: origin,
    fromNode: nodeName,
    method,
    relayReplyMethod: '',
    createdMs: Date.now(),
    // The copy is an ordinary reply on node1: no relay markers, so nothing copies it again.
    previousMessage: { ...prev, relayOriginalViaNode: '', relayFromNode: '' },
  };
}
