import { REPLY_OVERHEAD } from '../message/limits.js';
import type { MethodContext } from './method.js';

/** How long a line waits for more lines before its reply is sent. */
export const STREAM_WINDOW_MS = 200;
/** The most output one streamed reply carries (less when the broker's max payload is small). */
export const STREAM_MAX_BATCH_BYTES = 64 * 1024;

/** The batch size cap for a broker with this max payload: well under it. */
export function batchCapBytes(maxPayload: number): number {
  return Math.max(1024, Math.min(STREAM_MAX_BATCH_BYTES, Math.floor((maxPayload - REPLY_OVERHEAD) / 2)));
}

/**
 * Turns output that arrives in pieces (a command's pipes, a followed file) into numbered
 * replies (seq 0, 1, 2, ...) made of whole lines: a batch is sent `windowMs` after its first
 * line, or at once when it reaches `capBytes`. A line without its newline yet is held until
 * the newline comes, the cap is reached, or the stream ends. Replies are queued one after the
 * other, so they are committed to the outbox in order.
 */
export class ReplyStream {
  private readonly partial = new Map<string, Buffer>();
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private chain: Promise<void> = Promise.resolve();
  private ended = false;

  constructor(
    private readonly ctx: Pick<MethodContext, 'reply' | 'logger'>,
    private readonly opts: { capBytes: number; windowMs?: number },
  ) {}

  /** Replies queued so far. */
  get sent(): number {
    return this.seq;
  }

  /** Output bytes from source `prefix` ('' for the main one); each complete line is prefixed. */
  write(chunk: Buffer, prefix = ''): void {
    if (this.ended) return;
    let buf = this.partial.has(prefix) ? Buffer.concat([this.partial.get(prefix) as Buffer, chunk]) : chunk;
    for (;;) {
      const nl = buf.indexOf(0x0a);
      if (nl < 0) break;
      this.line(prefix + buf.subarray(0, nl).toString('utf8'));
      buf = buf.subarray(nl + 1);
    }
    // What is left is a line without its newline yet: held, unless it fills a batch already.
    const room = this.opts.capBytes - Buffer.byteLength(prefix) - 1;
    while (buf.length > room) {
      const cut = utf8Boundary(buf, room);
      this.line(prefix + buf.subarray(0, cut).toString('utf8'));
      buf = buf.subarray(cut);
    }
    if (buf.length > 0) this.partial.set(prefix, Buffer.from(buf));
    else this.partial.delete(prefix);
  }

  /** One whole line (a newline is added); a line longer than a batch is sent in pieces. */
  line(text: string): void {
    if (this.ended) return;
    if (Buffer.byteLength(text) + 1 > this.opts.capBytes) {
      let buf = Buffer.from(text);
      const room = Math.max(1, this.opts.capBytes - 1);
      while (buf.length > room) {
        const cut = utf8Boundary(buf, room);
        this.add(`${buf.subarray(0, cut).toString('utf8')}\n`);
        buf = buf.subarray(cut);
      }
      text = buf.toString('utf8');
    }
    this.add(`${text}\n`);
  }

  private add(s: string): void {
    const n = Buffer.byteLength(s);
    if (this.pendingBytes > 0 && this.pendingBytes + n > this.opts.capBytes) this.flush();
    this.pending.push(s);
    this.pendingBytes += n;
    if (this.pendingBytes >= this.opts.capBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.opts.windowMs ?? STREAM_WINDOW_MS);
  }

  /** Sends what is left, optionally a last line, and waits until every reply is queued. */
  async end(lastLine?: string): Promise<void> {
    if (!this.ended) {
      for (const [prefix, buf] of this.partial) this.line(prefix + buf.toString('utf8'));
      this.partial.clear();
      if (lastLine !== undefined) this.line(lastLine);
      this.flush();
      this.ended = true;
    }
    await this.chain;
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    const seq = this.seq++;
    this.pending = [];
    this.pendingBytes = 0;
    this.chain = this.chain
      .then(() => this.ctx.reply(text, seq))
      .catch((err: unknown) => this.ctx.logger.error({ err, seq }, 'a streamed reply could not be queued'));
  }
}

/** The largest cut point <= `max` that does not split a UTF-8 character. */
function utf8Boundary(buf: Buffer, max: number): number {
  let cut = Math.max(1, max);
  while (cut > 1 && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return cut;
}
