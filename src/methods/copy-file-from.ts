import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { KINDS, newMessage, NODE_NAME, NODE_NAME_RULE, type Message } from '../message/message.js';
import { abortArgs, abortIdOf, chunkArgs, chunkIdOf, COPY_TO, endArgs, endIdOf, MIN_CHUNK_BYTES } from './copy-protocol.js';
import { endedBy, type MethodContext, type MethodHandler, type SendOutcome } from './method.js';

/** Room left in a chunk message for the fields around the data. */
const CHUNK_OVERHEAD = 8 * 1024;
/** Chunks on their way at once: enough to keep a slow link busy, little memory. */
const WINDOW = 4;

/**
 * REQCopyFileFrom `[srcPath, dstNode, dstPath, chunkBytes?]`, run on the source node: sends the
 * file to `dstNode` in chunks that fit the broker's max payload, then an end message with its
 * size, SHA-256 and mode. The destination (REQCopyFileTo) assembles a temp file, checks it and
 * renames it into place, then replies to the requester. Chunks are durable messages: a link cut
 * only delays them, and a restart of this node resumes the copy (chunks already delivered are
 * not sent again).
 */
export const copyFileFrom: MethodHandler = {
  name: 'REQCopyFileFrom',
  kind: KINDS.EventACK,
  onInterrupted: 'redo',
  run: async (msg, ctx) => {
    const fail = async (text: string): Promise<void> => {
      const full = `error: REQCopyFileFrom: ${text} (id ${msg.id})`;
      ctx.reportError(full);
      await ctx.reply(`${full}\n`);
    };
    const [srcPath = '', dstNode = '', dstPath = '', chunkArg] = msg.methodArgs;
    if (srcPath === '' || dstNode === '' || dstPath === '' || msg.methodArgs.length > 4) {
      await fail(
        `methodArgs must be [srcPath, dstNode, dstPath] (and optionally the chunk size in bytes), e.g. ["/var/log/syslog", "central", "/tmp/syslog"], got ${JSON.stringify(msg.methodArgs).slice(0, 300)}`,
      );
      return;
    }
    if (!NODE_NAME.test(dstNode)) {
      await fail(`destination node ${JSON.stringify(dstNode.slice(0, 130))} is not a valid node name (${NODE_NAME_RULE})`);
      return;
    }
    if (dstPath.includes('\0') || dstPath.endsWith('/')) {
      await fail(`destination path ${JSON.stringify(dstPath.slice(0, 300))} must name a file`);
      return;
    }
    const maxChunk = Math.floor((ctx.maxPayload - CHUNK_OVERHEAD) / 4) * 3;
    let chunkBytes = maxChunk;
    if (chunkArg !== undefined && chunkArg !== '') {
      const n = /^\d{1,12}$/.test(chunkArg) ? Number(chunkArg) : NaN;
      if (!(n >= MIN_CHUNK_BYTES && n <= maxChunk)) {
        await fail(
          `chunk size ${JSON.stringify(chunkArg.slice(0, 40))} must be a number of bytes from ${MIN_CHUNK_BYTES} to ${maxChunk} (what fits the broker's max payload)`,
        );
        return;
      }
      chunkBytes = n;
    }
    const srcAbs = path.resolve(srcPath);
    let file: fs.FileHandle;
    try {
      file = await fs.open(srcAbs, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      await fail(code === 'ENOENT' ? `source file not found: ${srcPath}` : `cannot read ${srcPath}: ${(err as Error).message}`);
      return;
    }
    let copy: CopySender | undefined;
    try {
      const before = await file.stat();
      if (!before.isFile()) {
        await fail(`source ${srcPath} is not a regular file`);
        return;
      }
      copy = new CopySender(msg, ctx, dstNode, dstPath);
      const sent = await copy.sendChunks(file, before.size, chunkBytes);
      if (typeof sent === 'string') {
        await copy.abort(sent);
        await fail(sent);
        return;
      }
      const after = await file.stat();
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
        const why = `source file ${srcPath} changed while it was copied; nothing was written on ${dstNode}, copy it again`;
        await copy.abort(why);
        await fail(why);
        return;
      }
      const end = await copy.sendEnd({ chunks: sent.chunks, size: before.size, sha256: sent.sha256, mode: before.mode & 0o7777, srcPath });
      if (end.outcome !== 'delivered') await fail(`the end of the copy was not delivered to ${dstNode}: ${end.detail}`);
    } catch (err) {
      const ended = endedBy(ctx.signal);
      if (ended === 'stopping') return; // the copy resumes after the node's restart
      if (ended === 'timeout') {
        const why = `method timed out after ${msg.methodTimeoutMs / 1000} s before the copy was done (give a larger methodTimeout, or -1, for large files or slow links); nothing was written on ${dstNode}`;
        await copy?.abort(why);
        await fail(why);
        return;
      }
      await fail(`cannot read ${srcPath}: ${(err as Error).message}`);
    } finally {
      await file.close();
    }
  },
};

/** The messages of one copy, sent from the source node. */
class CopySender {
  constructor(
    private readonly req: Message,
    private readonly ctx: MethodContext,
    private readonly dstNode: string,
    private readonly dstPath: string,
  ) {}

  /** Reads and sends every chunk, WINDOW at a time; the chunk count and digest, or why it stopped. */
  async sendChunks(file: fs.FileHandle, size: number, chunkBytes: number): Promise<{ chunks: number; sha256: string } | string> {
    const chunks = Math.ceil(size / chunkBytes);
    const hash = createHash('sha256');
    const inFlight = new Map<number, Promise<{ index: number; result: SendOutcome }>>();
    let failure: string | undefined;
    const settle = async (): Promise<void> => {
      const { index, result } = await Promise.race(inFlight.values());
      inFlight.delete(index);
      if (result.outcome !== 'delivered' && failure === undefined) {
        failure = `chunk ${index + 1} of ${chunks} was not delivered to ${this.dstNode}: ${result.detail}`;
      }
    };
    for (let index = 0; index < chunks && failure === undefined; index++) {
      this.ctx.signal.throwIfAborted();
      const offset = index * chunkBytes;
      const buf = Buffer.allocUnsafe(Math.min(chunkBytes, size - offset));
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await file.read(buf, got, buf.length - got, offset + got);
        if (bytesRead === 0) return `source file shrank while it was copied (${offset + got} of ${size} bytes read)`;
        got += bytesRead;
      }
      hash.update(buf);
      const chunk = this.message(chunkIdOf(this.req.id, index), chunkArgs(this.dstPath, this.req.id, index, offset), [
        buf.toString('base64'),
      ]);
      inFlight.set(
        index,
        this.ctx.node.send([chunk]).then(([result]) => ({ index, result: result as SendOutcome })),
      );
      if (inFlight.size >= WINDOW) await settle();
    }
    while (inFlight.size > 0) await settle();
    this.ctx.signal.throwIfAborted();
    return failure ?? { chunks, sha256: hash.digest('hex') };
  }

  /**
   * The end message carries the request's reply settings and names the requester, so the
   * destination's reply ("the file is in place") goes straight to it.
   */
  async sendEnd(a: { chunks: number; size: number; sha256: string; mode: number; srcPath: string }): Promise<SendOutcome> {
    const end: Message = {
      ...this.message(endIdOf(this.req.id), endArgs({ dstPath: this.dstPath, copyId: this.req.id, ...a, srcNode: this.ctx.nodeName }), []),
      replyMethod: this.req.replyMethod,
      replyMethodArgs: this.req.replyMethodArgs,
      replyAckTimeoutMs: this.req.replyAckTimeoutMs,
      replyRetries: this.req.replyRetries,
      replyMethodTimeoutMs: this.req.replyMethodTimeoutMs,
      directory: this.req.directory,
      fileName: this.req.fileName,
      // The destination replies to the node that asked for the copy (it checks that with the request's origin proof).
      replyToNode: this.req.fromNode,
      // A relayed copy: the reply is copied on to where the request came from (by the relay node, from its own records).
      relayReplyMethod: this.req.relayReplyMethod,
    };
    const [outcome] = await this.ctx.node.send([end]);
    return outcome as SendOutcome;
  }

  /** Tells the destination to drop what it has of this copy (best effort, same budget). */
  async abort(reason: string): Promise<void> {
    if (endedBy(this.ctx.signal) === 'stopping') return;
    await this.ctx.node.send([this.message(abortIdOf(this.req.id), abortArgs(this.dstPath, this.req.id, reason.slice(0, 500)), [])]);
  }

  private message(id: string, methodArgs: string[], data: string[]): Message {
    return newMessage({
      id,
      toNode: this.dstNode,
      fromNode: this.ctx.nodeName,
      method: COPY_TO,
      methodArgs,
      data,
      ackTimeoutMs: this.req.ackTimeoutMs,
      retries: this.req.retries,
      methodTimeoutMs: -1,
      // The request as the node that asked signed it: the destination acts for that node.
      ...(this.req.origin === undefined ? {} : { origin: this.req.origin }),
    });
  }
}
