import fs from 'node:fs';
import path from 'node:path';
import { END_PREFIX } from '../message/limits.js';
import { KINDS } from '../message/message.js';
import { endedBy, type MethodHandler } from './method.js';
import { batchCapBytes, ReplyStream } from './reply-stream.js';

/** How often the file is checked when no change event came (events can be missed). */
const POLL_MS = 250;
/** The most bytes read in one go. */
const READ_CHUNK = 64 * 1024;

interface Open {
  fd: fs.promises.FileHandle;
  ino: number;
  dev: number;
  pos: number;
}

/**
 * Follows one file from its end, like `tail -F -n0`: new bytes are read on change events
 * and on a poll, a file that shrank is read again from its start (truncation), and a new
 * file at the path (another inode: rotation) is opened once the old one is read to its end.
 */
class Follower {
  private cur: Open | undefined;
  private busy: Promise<void> = Promise.resolve();
  private again = false;
  private running = false;

  constructor(
    private readonly file: string,
    private readonly out: (chunk: Buffer) => void,
  ) {}

  async open(): Promise<void> {
    const fd = await fs.promises.open(this.file, 'r');
    const st = await fd.stat();
    this.cur = { fd, ino: st.ino, dev: st.dev, pos: st.size };
  }

  /** Reads what is new; calls while a check runs are merged into one more check. */
  check(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.busy;
    }
    this.running = true;
    this.busy = (async () => {
      try {
        do {
          this.again = false;
          await this.step();
        } while (this.again);
      } finally {
        this.running = false;
      }
    })();
    return this.busy;
  }

  async close(): Promise<void> {
    await this.busy.catch(() => {});
    await this.cur?.fd.close().catch(() => {});
    this.cur = undefined;
  }

  private async step(): Promise<void> {
    const at = await fs.promises.stat(this.file).catch(() => undefined);
    const cur = this.cur;
    if (cur !== undefined) {
      const st = await cur.fd.stat();
      const same = at !== undefined && at.ino === cur.ino && at.dev === cur.dev;
      if (same && st.size < cur.pos) cur.pos = 0; // truncated
      await this.drain(cur, st.size);
      if (same || at === undefined) return;
      // Rotated: the old file is read to its end, then the new one from its start.
      await cur.fd.close().catch(() => {});
      this.cur = undefined;
    }
    if (at === undefined) return;
    try {
      const fd = await fs.promises.open(this.file, 'r');
      const st = await fd.stat();
      this.cur = { fd, ino: st.ino, dev: st.dev, pos: 0 };
      await this.drain(this.cur, st.size);
    } catch {
      // Gone again between the stat and the open: the next check retries.
    }
  }

  private async drain(o: Open, size: number): Promise<void> {
    while (o.pos < size) {
      const buf = Buffer.alloc(Math.min(READ_CHUNK, size - o.pos));
      const { bytesRead } = await o.fd.read(buf, 0, buf.length, o.pos);
      if (bytesRead === 0) return;
      o.pos += bytesRead;
      this.out(buf.subarray(0, bytesRead));
    }
  }
}

/**
 * REQTailFile: follows the file `methodArgs[0]` from its current end and replies with the new
 * lines, batched. It survives truncation and rotation, and stops at methodTimeout (-1: when the
 * node stops), with a last line saying so. A missing file is an error to central and the sender.
 */
export const tailFile: MethodHandler = {
  name: 'REQTailFile',
  kind: KINDS.EventACK,
  onInterrupted: 'report',
  run: async (msg, ctx) => {
    const arg = msg.methodArgs[0];
    if (arg === undefined || arg === '') {
      ctx.reportError(`error: REQTailFile: methodArgs is empty: give the file to follow, e.g. ["/var/log/syslog"] (id ${msg.id})`);
      return;
    }
    const file = path.resolve(arg);
    const stream = new ReplyStream(ctx, { capBytes: batchCapBytes(ctx.maxPayload) });
    const follower = new Follower(file, (chunk) => stream.write(chunk));
    try {
      await follower.open();
    } catch (err) {
      ctx.reportError(`error: REQTailFile: cannot follow ${JSON.stringify(arg)}: ${(err as Error).message} (id ${msg.id})`);
      return;
    }
    const onError = (err: unknown): void => ctx.logger.warn({ err }, 'REQTailFile: reading the file failed, retrying');
    const check = (): void => void follower.check().catch(onError);
    let watcher: fs.FSWatcher | undefined;
    try {
      // The folder is watched, not the file, so a new file at the path is seen too.
      watcher = fs.watch(path.dirname(file), { persistent: false }, (_event, name) => {
        if (name === null || name === path.basename(file)) check();
      });
      watcher.on('error', () => watcher?.close());
    } catch {
      watcher = undefined; // no inotify room: the poll alone does it
    }
    const poll = setInterval(check, POLL_MS);
    // It follows the file until its methodTimeout (-1: until the node stops).
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const reason =
      endedBy(ctx.signal) === 'timeout'
        ? `methodTimeout of ${msg.methodTimeoutMs / 1000} s reached`
        : `stopped: node ${ctx.nodeName} is stopping`;
    ctx.logger.info({ file }, `REQTailFile ${reason}`);
    clearInterval(poll);
    watcher?.close();
    if (endedBy(ctx.signal) !== 'stopping') await follower.check().catch(onError);
    await follower.close();
    await stream.end(`${END_PREFIX}REQTailFile ${JSON.stringify(arg)} ${reason}`);
  },
};
