import path from 'node:path';
import { labelsOfHello } from '../message/labels.js';
import { KINDS } from '../message/message.js';
import type { MethodHandler } from './method.js';

/**
 * REQHello: a node says it is alive. The receiver (the central node) appends a line to
 * `<data>/hello-messages/<node>/hello.log` and records the node's last-seen time. A hello speaks
 * only of the node that proved it: the folder and file name are this node's, not the sender's.
 */
export const hello: MethodHandler = {
  name: 'REQHello',
  kind: KINDS.EventNACK,
  onInterrupted: 'redo',
  ledger: false,
  run: async (msg, ctx) => {
    const file = path.join(ctx.dataFolder, 'hello-messages', msg.fromNode, 'hello.log');
    ctx.files.append(file, `${new Date().toISOString()}, Received hello from "${msg.fromNode}"\n`);
    ctx.node.sawNode(msg.fromNode, Date.now(), labelsOfHello(msg.methodArgs) ?? {});
  },
};
