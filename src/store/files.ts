import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** An open result file, kept while it is being written to. */
interface Handle {
  fd: number;
  ino: number;
  /** A sync of it is running: writes done meanwhile wait for the next one. */
  syncing: boolean;
  /** Written, waiting for the next sync to resolve. */
  unsynced: PendingWrite[];
  idle: NodeJS.Timeout | undefined;
}

/** How long a result file stays open after its last write. */
const KEEP_OPEN_MS = 2000;
/** Result files kept open at most (the least recently written is closed first). */
const MAX_OPEN = 32;

/**
 * Writes result files. Appends are planned: each gets its offset when the message is
 * received (and the plan is committed with the receipt), and is written at that offset. A
 * write redone after a crash therefore lands in the same place instead of appending twice.
 *
 * A file being written to is kept open (checked against its path at each write, so a file
 * rotated or replaced meanwhile is opened again); one fdatasync per file runs at a time, on the
 * thread pool, and the writes made while it runs are made durable together by the next one.
 */
export class FileWriter {
  /**
   * `roots`: the folders written into (the data folder, the copy destinations). A file whose
   * folder resolves (symlinks followed) outside them is refused, and the file itself is opened
   * without following a symlink: a link planted in the data folder leads nowhere.
   */
  constructor(private readonly roots: readonly string[] = []) {}

  /** Throws when `file`'s folder, with its symlinks resolved, is not inside one of the roots. */
  private checkInside(file: string): void {
    if (this.roots.length === 0) return;
    const dir = fs.realpathSync(path.dirname(file));
    const inside = this.roots.some((r) => {
      let root: string;
      try {
        root = fs.realpathSync(r);
      } catch {
        return false;
      }
      return dir === root || dir.startsWith(root + path.sep);
    });
    if (!inside) throw Object.assign(new Error(`${file} leads outside the folders steward writes into (a symlink?)`), { code: 'EOUTSIDE' });
  }

  private readonly planned = new Map<string, { end: number; open: number }>();
  private pendingWrites: PendingWrite[] = [];
  /** Open files, least recently written first. */
  private readonly handles = new Map<string, Handle>();
  /** Per file: the last replacement asked for (settled), the next one starts after it. */
  private readonly replacing = new Map<string, Promise<unknown>>();

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
   * written together; resolves once the data is on disk.
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
      let h: Handle;
      try {
        h = this.handle(file);
        // Written at once (the page cache), synced on the thread pool: the event loop goes on
        // receiving while the disk catches up.
        for (const w of writes) {
          let done = 0;
          while (done < w.data.length) done += fs.writeSync(h.fd, w.data, done, w.data.length - done, w.offset + done);
        }
      } catch (err) {
        for (const w of writes) w.reject(err);
        continue;
      }
      h.unsynced.push(...writes);
      this.sync(file, h);
    }
  }

  /** The open file at `file` (opened, or opened again when the path now names another file). */
  private handle(file: string): Handle {
    let h = this.handles.get(file);
    if (h !== undefined) {
      const st = fs.statSync(file, { throwIfNoEntry: false });
      if (st === undefined || st.ino !== h.ino) {
        this.forget(file, h);
        h = undefined;
      } else {
        // Most recently written last.
        this.handles.delete(file);
        this.handles.set(file, h);
      }
    }
    if (h === undefined) {
      let fd: number;
      try {
        this.checkInside(file);
        fd = fs.openSync(file, OPEN_FLAGS, 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        this.checkInside(file);
        fd = fs.openSync(file, OPEN_FLAGS, 0o600);
      }
      // Too many open: the least recently written that are idle are closed (not this one, which
      // is about to be written; files still syncing stay open until their sync is done).
      for (const [old, oh] of this.handles) {
        if (this.handles.size < MAX_OPEN) break;
        if (!oh.syncing && oh.unsynced.length === 0) this.forget(old, oh);
      }
      h = { fd, ino: fs.fstatSync(fd).ino, syncing: false, unsynced: [], idle: undefined };
      this.handles.set(file, h);
    }
    if (h.idle !== undefined) clearTimeout(h.idle);
    h.idle = undefined;
    return h;
  }

  private sync(file: string, h: Handle): void {
    if (h.syncing || h.unsynced.length === 0) return;
    const round = h.unsynced;
    h.unsynced = [];
    h.syncing = true;
    fs.fdatasync(h.fd, (err) => {
      h.syncing = false;
      for (const w of round) {
        if (err === null) w.resolve();
        else w.reject(err);
      }
      if (h.unsynced.length > 0) this.sync(file, h);
      else if (this.handles.get(file) !== h)
        fs.close(h.fd, () => undefined); // forgotten while it synced
      else {
        h.idle = setTimeout(() => this.forget(file, h), KEEP_OPEN_MS);
        h.idle.unref();
      }
    });
  }

  /** Closes the file (once its sync, if one runs, is done). */
  private forget(file: string, h: Handle): void {
    if (this.handles.get(file) === h) this.handles.delete(file);
    if (h.idle !== undefined) clearTimeout(h.idle);
    h.idle = undefined;
    if (!h.syncing && h.unsynced.length === 0) fs.close(h.fd, () => undefined);
  }

  /** Marks a planned append as written (or abandoned). */
  release(file: string): void {
    const p = this.planned.get(file);
    if (p !== undefined && --p.open <= 0) this.planned.delete(file);
  }

  /**
   * Replaces `file` whole: written to a temp file, synced (on the thread pool), renamed into
   * place. Replacements of one file happen in the order they were asked for.
   */
  replace(file: string, data: Buffer): Promise<void> {
    const before = this.replacing.get(file) ?? Promise.resolve();
    const mine = before.then(() => this.replaceNow(file, data));
    const settled = mine.catch(() => undefined);
    this.replacing.set(file, settled);
    void settled.then(() => {
      if (this.replacing.get(file) === settled) this.replacing.delete(file);
    });
    return mine;
  }

  private async replaceNow(file: string, data: Buffer): Promise<void> {
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    this.checkInside(file);
    const tmp = `${file}.${process.pid}.${++tempNo}.tmp`;
    // The rename replaces a symlink at `file` itself, never what it points to.
    const fh = await fsp.open(tmp, OPEN_FLAGS | fs.constants.O_EXCL | fs.constants.O_TRUNC, 0o600);
    try {
      await fh.writeFile(data);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  }

  /** A plain append for logs that need no exactly-once guarantee (hello). */
  append(file: string, data: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.checkInside(file);
    const fd = fs.openSync(file, OPEN_FLAGS | fs.constants.O_APPEND, 0o600);
    try {
      fs.writeSync(fd, data);
    } finally {
      fs.closeSync(fd);
    }
  }
}

let tempNo = 0;

/** Result files: written, created 0600, never through a symlink. */
const OPEN_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW;

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
