import { KINDS } from '../message/message.js';
import { NODE_NAME, NODE_NAME_RULE } from '../message/message.js';
import { RELAY_INITIAL_METHOD, RELAY_METHOD, relayOnward, relayToVia } from '../message/relay.js';
import type { MethodHandler } from './method.js';

/**
 * REQRelayInitial: runs on the node where a message with `relayViaNode` was given, and sends it
 * on to the relay node as REQRelay (step 1 of the seed's relay steps, see message/relay.ts).
 */
export const relayInitialMethod: MethodHandler = {
  name: RELAY_INITIAL_METHOD,
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  run: async (msg, ctx) => {
    if (msg.fromNode !== ctx.nodeName || msg.relayFromNode !== ctx.nodeName) {
      ctx.reportError(
        `error: ${RELAY_INITIAL_METHOD}: only made by a node for itself, from a message with relayViaNode; refused one from ${msg.fromNode} (id ${msg.id})`,
      );
      return;
    }
    await ctx.node.queue([relayToVia(msg, ctx.nodeName)]);
  },
};

/**
 * REQRelay: runs on the relay node (subscribed on `*.<node>.REQRelay.EventACK` when
 * `-startSubREQRelay` is on) and sends the original message on to its target (step 2). The
 * replies come back here and are copied to the node that relayed (step 5, in the node's executor).
 */
export const relayMethod: MethodHandler = {
  name: RELAY_METHOD,
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  run: async (msg, ctx) => {
    const fail = (text: string): void => ctx.reportError(`error: ${RELAY_METHOD}: ${text} (id ${msg.id})`);
    const target = msg.relayToNode ?? '';
    const method = msg.relayOriginalMethod ?? '';
    if (!NODE_NAME.test(target)) {
      fail(`no valid relayToNode in the message from ${msg.fromNode} (${NODE_NAME_RULE})`);
      return;
    }
    if (msg.relayFromNode !== msg.fromNode) {
      fail(`relayFromNode ${JSON.stringify(msg.relayFromNode ?? '')} is not the sending node ${msg.fromNode}`);
      return;
    }
    if (!ctx.node.processes.methods.includes(method) || method === RELAY_METHOD || method === RELAY_INITIAL_METHOD) {
      fail(`cannot relay method ${JSON.stringify(method.slice(0, 100))} from ${msg.fromNode} to ${target}`);
      return;
    }
    await ctx.node.queue([relayOnward(msg, ctx.nodeName)]);
  },
};
