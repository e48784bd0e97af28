import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AcceptInput, InputResult } from './accept.js';
import { MAX_INPUT_BYTES } from './limits.js';

export interface FolderInputDeps {
  readonly accept: AcceptInput;
  readonly logger: Logger;
  /** Between two looks at the folder. */
  readonly pollMs?: number;
  readonly maxBytes?: number;
}

/** Name of the folder (inside the watched one) where bad files are moved. */
export const FAILED_FOLDER = 'failed';
const POLL_MS = 500;

interface Seen {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

/**
 * The watched folder (`-readFolder <dir>`): every message file written into it (JSON or YAML, as
 * on the socket) is handed over once, then removed. Files already there at start are handled
 * too. A file is taken only when its size and mtime are the same on two looks in a row, and
 * names starting with `.` or ending in `.tmp` are left alone, so write-then-rename is safe. A
 * file of which no message was accepted is moved to `<dir>/failed/<name>`, with the error lines
 * in `<dir>/failed/<name>.error`. Polls (every 500 ms) rather than fs.watch, which misses events
 * on network and container file systems.
 */
export class FolderInput {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** What each candidate file looked like on the previous look. */
  private readonly seen = new Map<string, Seen>();
  /** Files handled whose removal failed: never handled twice. */
  private readonly done = new Map<string, Seen>();

  constructor(
    private readonly dir: string,
    private readonly deps: FolderInputDeps,
  ) {}

  start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.deps.logger.info({ folder: this.dir }, 'folder input watching');
    this.schedule(0);
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.scan()
        .catch((err: unknown) => this.deps.logger.error({ err: (err as Error).message, folder: this.dir }, 'folder input scan failed'))
        .finally(() => {
          this.running = undefined;
          this.schedule(this.deps.pollMs ?? POLL_MS);
        });
    }, ms);
  }

  private async scan(): Promise<void> {
    const names = fs.readdirSync(this.dir, { withFileTypes: true });
    const present = new Set<string>();
    for (const e of names) {
      if (this.stopped) return;
      if (!e.isFile() || e.name.startsWith('.') || e.name.endsWith('.tmp')) continue;
      present.add(e.name);
      const file = path.join(this.dir, e.name);
      let st: fs.Stats;
      try {
        st = fs.statSync(file);
      } catch {
        continue; // gone meanwhile
      }
      const now: Seen = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
      const done = this.done.get(e.name);
      if (done !== undefined && same(done, now)) continue;
      this.done.delete(e.name);
      const before = this.seen.get(e.name);
      this.seen.set(e.name, now);
      if (before === undefined || !same(before, now)) continue; // still being written, or new
      this.seen.delete(e.name);
      await this.handle(e.name, file, now);
    }
    for (const name of this.seen.keys()) if (!present.has(name)) this.seen.delete(name);
    for (const name of this.done.keys()) if (!present.has(name)) this.done.delete(name);
  }

  private async handle(name: string, file: string, st: Seen): Promise<void> {
    const log = this.deps.logger.child({ file: name });
    const max = this.deps.maxBytes ?? MAX_INPUT_BYTES;
    let results: InputResult[];
    if (st.size > max) {
      results = [{ status: 'error', index: 0, error: `file larger than ${max} bytes: split it into several files` }];
    } else {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'folder input cannot read file, will retry');
        return;
      }
      try {
        results = await this.deps.accept(bytes);
      } catch (err) {
        results = [{ status: 'error', index: 0, error: `input failed: ${(err as Error).message}` }];
      }
    }
    const accepted = results.filter((r) => r.status === 'accepted').length;
    const errors = results.flatMap((r) => (r.status === 'error' ? [r.error] : []));
    log.info({ accepted, rejected: errors.length, bytes: st.size }, 'input handled');
    for (const e of errors) log.warn(e);
    try {
      if (accepted > 0) {
        fs.rmSync(file);
      } else {
        const failed = path.join(this.dir, FAILED_FOLDER);
        fs.mkdirSync(failed, { recursive: true, mode: 0o700 });
        // `<name>.error` must fit the file system's limit on a name (255 bytes) too: a longer
        // name is shortened (with a hash, so two long names stay apart) for both files.
        const kept =
          Buffer.byteLength(`${name}.error`) <= 255
            ? name
            : `${Buffer.from(name).subarray(0, 200).toString()}~${createHash('sha256').update(name).digest('hex').slice(0, 12)}`;
        const header = kept === name ? '' : `file: ${name}\n`;
        fs.writeFileSync(
          path.join(failed, `${kept}.error`),
          header + (errors.length > 0 ? errors : ['no message in the file']).join('\n') + '\n',
        );
        fs.renameSync(file, path.join(failed, kept));
      }
    } catch (err) {
      // Handled but still there: remember it, so it is not handled again.
      this.done.set(name, st);
      log.error(
        { err: (err as Error).message },
        'folder input cannot remove or move aside a handled file; it will not be handled again until it changes',
      );
    }
  }
}

function same(a: Seen, b: Seen): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}
