import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { KINDS, type Message } from '../message/message.js';
import { chunkIdOf, parseCopyToArgs, tempPathOf, type CopyToArgs } from './copy-protocol.js';
import type { MethodContext, MethodHandler } from './method.js';

/** Chunk ids checked per call while an end message waits for its chunks. */
const AWAIT_BATCH = 1000;

/**
 * REQCopyFileTo, run on the destination node with the messages REQCopyFileFrom sends: a chunk
 * is written at its offset in a temp file next to the destination (idempotent, so a re-sent or
 * redone chunk does no harm); the end message waits until every chunk has been written, checks
 * size and SHA-256, sets the mode, renames the file into place and replies to the requester;
 * an abort removes the temp file.
 */
export const copyFileTo: MethodHandler = {
  name: 'REQCopyFileTo',
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  run: async (msg, ctx) => {
    const args = parseCopyToArgs(msg.methodArgs);
    if (typeof args === 'string') {
      ctx.reportError(`error: REQCopyFileTo: ${args} (id ${msg.id})`);
      return;
    }
    const dstAbs = path.resolve(args.dstPath);
    const roots = ctx.node.copyRoots;
    if (!roots.some((r) => dstAbs.startsWith(r.endsWith(path.sep) ? r : r + path.sep))) {
      const text = `error: REQCopyFileTo: ${ctx.nodeName} writes copies only under ${roots.join(', ')} (-copyDestinations), not to ${args.dstPath} (id ${msg.id})`;
      ctx.reportError(text);
      if (args.kind === 'end') await ctx.reply(`${text}\n`);
      return;
    }
    const temp = tempPathOf(dstAbs, args.copyId);
    if (args.kind === 'chunk') await writeChunk(msg, ctx, args, temp);
    else if (args.kind === 'abort') await fs.rm(temp, { force: true });
    else await finish(msg, ctx, args, dstAbs, temp);
  },
};

async function writeChunk(msg: Message, ctx: MethodContext, a: Extract<CopyToArgs, { kind: 'chunk' }>, temp: string): Promise<void> {
  const text = msg.data.join('');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) {
    ctx.reportError(
      `error: REQCopyFileTo: chunk ${a.index + 1} of the copy ${a.copyId} to ${a.dstPath} is not base64 data; the copy will fail its checksum (id ${msg.id})`,
    );
    return;
  }
  try {
    await ctx.files.writeAt(temp, a.offset, bytes);
  } catch (err) {
    ctx.reportError(
      `error: REQCopyFileTo: cannot write chunk ${a.index + 1} of the copy to ${ctx.nodeName}:${a.dstPath}: ${(err as Error).message} (id ${msg.id})`,
    );
  }
}

async function finish(
  msg: Message,
  ctx: MethodContext,
  a: Extract<CopyToArgs, { kind: 'end' }>,
  dstAbs: string,
  temp: string,
): Promise<void> {
  const what = `${a.srcNode}:${a.srcPath} to ${ctx.nodeName}:${a.dstPath}`;
  const fail = async (text: string): Promise<void> => {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    const full = `error: REQCopyFileTo: copy of ${what} failed: ${text} (id ${msg.id})`;
    ctx.reportError(full);
    await ctx.reply(`${full}\n`);
  };
  // Every chunk was ACKed before the end was sent, so each is received; some may still be running.
  for (let from = 0; from < a.chunks; from += AWAIT_BATCH) {
    const ids: string[] = [];
    for (let i = from; i < Math.min(a.chunks, from + AWAIT_BATCH); i++) ids.push(chunkIdOf(a.copyId, i));
    const { missing } = await ctx.node.awaitRuns(ids);
    if (missing.length > 0) {
      await fail(`chunk ${missing[0]} never arrived on ${ctx.nodeName}`);
      return;
    }
  }
  const done = `info: copied ${what} (${a.size} bytes, sha256 ${a.sha256})\n`;
  try {
    if (a.chunks === 0) {
      await fs.mkdir(path.dirname(temp), { recursive: true, mode: 0o700 });
      await fs.writeFile(temp, '', { mode: 0o600 });
    } else if (!(await exists(temp))) {
      // Redone after a restart that came after the rename: the file is already in place.
      if ((await digest(dstAbs).catch(() => undefined))?.sha256 === a.sha256) await ctx.reply(done);
      else await fail('its chunks were not written (see the errors before this one)');
      return;
    }
    const got = await digest(temp);
    if (got.size !== a.size || got.sha256 !== a.sha256) {
      await fail(
        `the assembled file has ${got.size} bytes with sha256 ${got.sha256}, expected ${a.size} bytes with sha256 ${a.sha256}; it was discarded`,
      );
      return;
    }
    await placeFile(temp, dstAbs, a.mode);
  } catch (err) {
    await fail((err as Error).message);
    return;
  }
  await ctx.reply(done);
}

/** Mode set, synced, renamed over the destination, the folder synced: the new file or the old one. */
async function placeFile(temp: string, dstAbs: string, mode: number): Promise<void> {
  const st = await fs.stat(dstAbs).catch(() => undefined);
  if (st?.isDirectory()) throw new Error(`${dstAbs} is a folder`);
  const fh = await fs.open(temp, 'r+');
  try {
    // Never a setuid, setgid or sticky bit from a copy.
    await fh.chmod(mode & 0o777);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(temp, dstAbs);
  const dir = await fs.open(path.dirname(dstAbs), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function digest(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest('hex') };
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
