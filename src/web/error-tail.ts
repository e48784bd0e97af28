import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** One line of the error log: `<time>, node: <node>, <text>` (methods/error-log.ts). */
export interface ErrorLine {
  readonly time: string;
  readonly node: string;
  readonly text: string;
}

/** How much of the log's end is read for a page of it: its last lines, never the whole file. */
const TAIL_BYTES = 512 * 1024;

export function parseErrorLine(line: string): ErrorLine | undefined {
  const m = /^(\S+), node: ([A-Za-z0-9_-]+), (.*)$/.exec(line);
  if (m === null) return line.trim() === '' ? undefined : { time: '', node: '', text: line };
  return { time: m[1] as string, node: m[2] as string, text: m[3] as string };
}

/** Whether a line is kept by the console's filters (a node, a text anywhere in it, any case). */
export function keeps(l: ErrorLine, node: string, q: string): boolean {
  if (node !== '' && l.node !== node) return false;
  return q === '' || `${l.time} ${l.node} ${l.text}`.toLowerCase().includes(q.toLowerCase());
}

/** The last `limit` lines of the error log that pass the filters, oldest first (read from the last 512 KB). */
export async function tailErrors(file: string, filter: { node: string; q: string; limit: number }): Promise<ErrorLine[]> {
  let fh: fs.promises.FileHandle;
  try {
    // O_NONBLOCK: a FIFO planted where the log belongs cannot hold a thread of the pool.
    fh = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return [];
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return [];
    const size = st.size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start);
    const lines = buf.subarray(0, bytesRead).toString('utf8').split('\n');
    if (start > 0) lines.shift(); // a part of a line
    const out: ErrorLine[] = [];
    for (let i = lines.length - 1; i >= 0 && out.length < filter.limit; i--) {
      const l = parseErrorLine(lines[i] as string);
      if (l !== undefined && keeps(l, filter.node, filter.q)) out.push(l);
    }
    return out.reverse();
  } finally {
    await fh.close();
  }
}

/**
 * Follows the lines appended to the error log (a poll of its size: the log may not exist yet,
 * and is appended by this process). Starts at its current end; a log that shrank was replaced
 * and is read from its start.
 */
export class ErrorFollower {
  private offset = -1;
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  private partial = '';
  /** Keeps a character split between two reads whole. */
  private decoder = new StringDecoder('utf8');

  constructor(
    private readonly file: string,
    private readonly onLines: (lines: ErrorLine[]) => void,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.offset = fs.statSync(this.file, { throwIfNoEntry: false })?.size ?? 0;
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const size = (await fs.promises.stat(this.file).catch(() => undefined))?.size ?? 0;
      if (size < this.offset) {
        this.offset = 0;
        this.partial = '';
        this.decoder = new StringDecoder('utf8');
      }
      if (size === this.offset) return;
      const fh = await fs.promises.open(this.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      try {
        const len = Math.min(size - this.offset, 4 * 1024 * 1024);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, this.offset);
        this.offset += bytesRead;
        const text = this.partial + this.decoder.write(buf.subarray(0, bytesRead));
        const parts = text.split('\n');
        this.partial = parts.pop() ?? '';
        const lines = parts.flatMap((p) => parseErrorLine(p) ?? []);
        if (lines.length > 0) this.onLines(lines);
      } finally {
        await fh.close();
      }
    } catch {
      // the log is not there (yet): the next poll looks again
    } finally {
      this.reading = false;
    }
  }
}
