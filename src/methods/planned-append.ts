import type { Message } from '../message/message.js';
import type { FileWriter } from '../store/files.js';
import type { MethodContext, PlanContext } from './method.js';

/**
 * Shared by the methods that append to a file exactly once (REQToFileAppend, REQErrorLog):
 * the file and offset are planned at receipt and committed with it; the run writes there.
 */
export interface AppendTarget {
  file(msg: Message, dataFolder: string, nodeName: string): string;
  bytes(msg: Message): Buffer;
}

interface Checkpoint {
  file: string;
  offset: number;
}

export function planAppend(target: AppendTarget, msg: Message, ctx: PlanContext): string {
  const file = target.file(msg, ctx.dataFolder, ctx.nodeName);
  const offset = ctx.files.planAppend(file, target.bytes(msg).length);
  return JSON.stringify({ file, offset } satisfies Checkpoint);
}

export async function runAppend(target: AppendTarget, msg: Message, ctx: MethodContext): Promise<void> {
  const bytes = target.bytes(msg);
  if (ctx.checkpoint === undefined) {
    // Only when run without a plan (never through the receiver); append at the end.
    const file = target.file(msg, ctx.dataFolder, ctx.nodeName);
    const offset = ctx.files.planAppend(file, bytes.length);
    try {
      await ctx.files.writeAt(file, offset, bytes);
    } finally {
      ctx.files.release(file);
    }
    return;
  }
  const cp = JSON.parse(ctx.checkpoint) as Checkpoint;
  try {
    await ctx.files.writeAt(cp.file, cp.offset, bytes);
  } finally {
    ctx.files.release(cp.file);
  }
}

export function abandonAppend(checkpoint: string, files: FileWriter): void {
  files.release((JSON.parse(checkpoint) as Checkpoint).file);
}

/** After a restart: the planned region is reserved again before new appends are planned. */
export function recoverAppend(target: AppendTarget, checkpoint: string, msg: Message, files: FileWriter): void {
  const cp = JSON.parse(checkpoint) as Checkpoint;
  files.reserve(cp.file, cp.offset, target.bytes(msg).length);
}
