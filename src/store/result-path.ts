import path from 'node:path';
import { NODE_NAME, type Message } from '../message/message.js';

/**
 * `<dataFolder>/<directory>/<node that ran the request>/<fileName>`. An absolute directory
 * is placed under the data folder; `..` is resolved as if the data folder were `/`, so the
 * path never leaves it.
 */
export function resultPath(dataFolder: string, msg: Message, fallbackName: string): string {
  // A reply's previousMessage is the request as this node stored it (node/replies.ts); any other
  // message's is a claim of its sender, and the node that runs it is this one.
  const prevTo = msg.isReply ? msg.previousMessage?.toNode : undefined;
  const ranBy = typeof prevTo === 'string' && NODE_NAME.test(prevTo) ? prevTo : msg.isReply ? msg.fromNode : msg.toNode;
  const dir = confine(msg.directory);
  const name = confine(msg.fileName);
  // The fallback holds a method name, which a received message may set to anything.
  return path.join(dataFolder, dir, ranBy, name === '' ? confine(fallbackName) : name);
}

/** A relative path that cannot climb above its root. */
export function confine(p: string): string {
  return path.posix.normalize(`/${p.replace(/\\/g, '/').replace(/\0/g, '')}`).slice(1);
}
