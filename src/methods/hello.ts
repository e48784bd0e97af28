import path from 'node:path';
import { KINDS } from '../message/message.js';
import { confine } from '../store/result-path.js';
import type { MethodHandler } from './method.js';

/**
 * REQHello: a node says it is alive. The receiver (the central node) appends a line to
 * `<data>/hello-messages/<node>/hello.log` and records the node's last-seen time.
 */
export const hello: MethodHandler = {
  name: 'REQHello',
  kind: KINDS.EventNACK,
  onInterrupted: 'redo',
  ledger: false,
  run: async (msg, ctx) => {
    const dir = msg.directory === '' ? 'hello-messages' : confine(msg.directory);
    const name = msg.fileName === '' ? 'hello.log' : confine(msg.fileName);
    const file = path.join(ctx.dataFolder, dir, msg.fromNode, name);
    ctx.files.append(file, `${new Date().toISOString()}, Received hello from "${msg.fromNode}"\n`);
    ctx.node.sawNode(msg.fromNode, Date.now());
  },
};
