import fs from 'node:fs';
import path from 'node:path';
import { NODE_NAME } from '../message/parse.js';
import type { Message } from '../message/message.js';

/**
 * `<dataFolder>/<directory>/<node that ran the request>/<fileName>`. An absolute directory
 * is placed under the data folder; `..` is resolved as if the data folder were `/`, so the
 * path never leaves it.
 */
export function resultPath(dataFolder: string, msg: Message, fallbackName: string): string {
  const prevTo = msg.previousMessage?.toNode;
  const ranBy =
    typeof prevTo === 'string' && NODE_NAME.test(prevTo) ? prevTo : msg.isReply ? msg.fromNode : msg.toNode;
  const dir = confine(msg.directory);
  const name = confine(msg.fileName);
  // The fallback holds a method name, which a received message may set to anything.
  return path.join(dataFolder, dir, ranBy, name === '' ? confine(fallbackName) : name);
}

/** A relative path that cannot climb above its root. */
export function confine(p: string): string {
  return path.posix.normalize(`/${p.replace(/\\/g, '/').replace(/\0/g, '')}`).slice(1);
}

/**
 * Writes result files. Appends are planned: each gets its offset when the message is
 * received (and the plan is committed with the receipt), and is written at that offset. A
 * write redone after a crash therefore lands in the same place instead of appending twice.
 */
export class FileWriter {
  private readonly planned = new Map<string, { end: number; open: number }>();
  private pendingWrites: PendingWrite[] = [];

  /** Reserves `length` bytes at the end of `file`; returns the offset. */
  planAppend(file: string, length: number): number {
    let p = this.planned.get(file);
    if (p === undefined) {
      p = { end: sizeOf(file), open: 0 };
      this.planned.set(file, p);
    }
    const offset = p.end;
    p.end += length;
    p.open++;
    return offset;
  }

  /** Reserves a region planned before a restart, so new appends go after it. */
  reserve(file: string, offset: number, length: number): void {
    let p = this.planned.get(file);
    if (p === undefined) {
      p = { end: sizeOf(file), open: 0 };
      this.planned.set(file, p);
    }
    p.end = Math.max(p.end, offset + length);
    p.open++;
  }

  /**
   * Writes `data` at `offset` (idempotent). Writes asked for in the same event-loop turn are
   * done together, with one fdatasync per file; resolves once the data is on disk.
   */
  writeAt(file: string, offset: number, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pendingWrites.push({ file, offset, data, resolve, reject });
      if (this.pendingWrites.length === 1) setImmediate(() => this.flushWrites());
    });
  }

  private flushWrites(): void {
    const batch = this.pendingWrites;
    this.pendingWrites = [];
    const byFile = new Map<string, PendingWrite[]>();
    for (const w of batch) {
      const list = byFile.get(w.file);
      if (list === undefined) byFile.set(w.file, [w]);
      else list.push(w);
    }
    for (const [file, writes] of byFile) {
      let fd: number;
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);
      } catch (err) {
        for (const w of writes) w.reject(err);
        continue;
      }
      try {
        // Written at once (the page cache), synced on the thread pool: the event loop goes on
        // receiving while the disk catches up.
        for (const w of writes) {
          let done = 0;
          while (done < w.data.length) done += fs.writeSync(fd, w.data, done, w.data.length - done, w.offset + done);
        }
      } catch (err) {
        fs.closeSync(fd);
        for (const w of writes) w.reject(err);
        continue;
      }
      fs.fdatasync(fd, (err) => {
        fs.close(fd, () => undefined);
        for (const w of writes) {
          if (err === null) w.resolve();
          else w.reject(err);
        }
      });
    }
  }

  /** Marks a planned append as written (or abandoned). */
  release(file: string): void {
    const p = this.planned.get(file);
    if (p !== undefined && --p.open <= 0) this.planned.delete(file);
  }

  /** Replaces `file` whole: written to a temp file, synced, renamed into place. */
  replace(file: string, data: Buffer): void {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, data);
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  }

  /** A plain append for logs that need no exactly-once guarantee (hello). */
  append(file: string, data: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.appendFileSync(file, data, { mode: 0o600 });
  }
}

interface PendingWrite {
  file: string;
  offset: number;
  data: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
