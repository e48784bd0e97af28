import path from 'node:path';
import { KINDS } from '../message/message.js';
import type { MethodHandler } from './method.js';
import { abandonAppend, planAppend, recoverAppend, runAppend, type AppendTarget } from './planned-append.js';

/** The longest error text written per line (the rest is cut, with a note of its length). */
export const MAX_ERROR_LINE = 64 * 1024;

/** One line per error: time it happened, reporting node, text. */
export function errorLine(createdMs: number, node: string, text: string): string {
  const at = new Date(createdMs);
  const time = Number.isNaN(at.getTime()) ? new Date().toISOString() : at.toISOString();
  const flat = text.replace(/\s*\n\s*/g, ' ').trim();
  const kept = flat.length <= MAX_ERROR_LINE ? flat : `${flat.slice(0, MAX_ERROR_LINE)}... (cut, ${flat.length} characters in all)`;
  return `${time}, node: ${node}, ${kept}\n`;
}

const target: AppendTarget = {
  file: (_msg, dataFolder, nodeName) => path.join(dataFolder, 'errorLog', nodeName, 'error.log'),
  bytes: (msg) => Buffer.from(errorLine(msg.createdMs, msg.fromNode, msg.data.join(' '))),
};

/** REQErrorLog: the central node appends every node's errors to `<data>/errorLog/<central>/error.log`. */
export const errorLog: MethodHandler = {
  name: 'REQErrorLog',
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  plan: (msg, ctx) => planAppend(target, msg, ctx),
  abandon: abandonAppend,
  recover: (cp, msg, files) => recoverAppend(target, cp, msg, files),
  run: async (msg, ctx) => runAppend(target, msg, ctx),
};
