import type net from 'node:net';
import type { Logger } from 'pino';
import { inputGrew, isCompleteInput, operatorRequestOf } from '../message/large-input.js';
import type { AcceptInput } from './accept.js';
import { IDLE_MS, LINGER_MS, MAX_INPUT_BYTES } from './limits.js';

export interface StreamInputDeps {
  readonly accept: AcceptInput;
  readonly logger: Logger;
  readonly maxBytes?: number;
  /** Serves operator requests: an input that is one JSON object with a `control` field. */
  readonly control?: (request: Record<string, unknown>, ch: ControlChannel) => Promise<void>;
  /**
   * The credential a client must send as its first line (the operator token), checked before
   * anything else it sends is read as input; undefined: none.
   */
  readonly firstLine?: (line: string) => boolean;
}

/** Longest first line (the token) a client may send before its input. */
const MAX_FIRST_LINE = 1024;

/** Where an operator request writes its answer lines. */
export interface ControlChannel {
  write(line: object): void;
  end(): void;
  onClose(cb: () => void): void;
}

/**
 * Serves one connection: reads to EOF (any size up to the cap), hands the bytes over, writes
 * back one JSON line per message, closes. Shared by the unix socket and the TCP listener.
 */
export function serveConnection(conn: net.Socket, d: StreamInputDeps): void {
  const max = d.maxBytes ?? MAX_INPUT_BYTES;
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  let looking = false;
  let idle: NodeJS.Timeout | undefined;
  conn.on('error', (err) => d.logger.debug({ err: err.message }, 'input connection error'));
  const answer = (lines: object[]): void => {
    if (conn.destroyed) return;
    conn.end(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  };
  const finish = (): void => {
    if (done) return;
    done = true;
    if (idle !== undefined) clearTimeout(idle);
    const bytes = Buffer.concat(chunks, size);
    chunks.length = 0;
    const control = d.control;
    if (control === undefined) {
      accept(bytes);
      return;
    }
    operatorRequestOf(bytes).then(
      (request) => (request === undefined ? accept(bytes) : serveControl(control, request)),
      () => accept(bytes),
    );
  };
  const serveControl = (control: NonNullable<StreamInputDeps['control']>, request: Record<string, unknown>): void => {
    const ch: ControlChannel = {
      write: (line) => {
        if (!conn.destroyed) conn.write(JSON.stringify(line) + '\n');
      },
      end: () => {
        if (!conn.destroyed) conn.end();
      },
      onClose: (cb) => {
        if (conn.destroyed) cb();
        else conn.once('close', cb);
      },
    };
    control(request, ch).catch((err: unknown) => answer([{ status: 'error', index: 0, error: (err as Error).message }]));
  };
  const accept = (bytes: Buffer): void => {
    d.accept(bytes).then(
      (results) => {
        const accepted = results.filter((r) => r.status === 'accepted').length;
        d.logger.info({ accepted, rejected: results.length - accepted, bytes: bytes.length }, 'input handled');
        for (const r of results) if (r.status === 'error') d.logger.warn({ index: r.index }, r.error);
        answer(results);
      },
      (err: unknown) => answer([{ status: 'error', index: 0, error: `input failed: ${(err as Error).message}` }]),
    );
  };
  /**
   * Without a half-close the client may be waiting for us: once it has paused IDLE_MS, answer if
   * what came is a complete document (not, say, an array that has not been closed yet: the
   * client may just be slow). After the event loop was busy, the timer can run before the data
   * that came meanwhile has been read: look once the pending reads are done (they run before
   * setImmediate), or a prefix of the input (any first lines of YAML are a complete document)
   * would be taken. One look at a time: a large input's look runs on the parser thread, and a
   * client pausing every 0.5 s must not queue a copy of its input per pause; data that came
   * during a look is looked at after it.
   */
  const armIdle = (): void => {
    if (idle !== undefined) clearTimeout(idle);
    idle = setTimeout(() => {
      const seen = size;
      setImmediate(() => {
        if (done || size !== seen || looking) return;
        looking = true;
        const after = (complete: boolean): void => {
          looking = false;
          if (done) return;
          if (size !== seen) armIdle();
          else if (complete) finish();
        };
        isCompleteInput(Buffer.concat(chunks, size)).then(after, () => after(false));
      });
    }, IDLE_MS);
  };
  /** Answers once, then reads and drops the rest until the client is done (or LINGER_MS have passed). */
  const refuse = (error: string): void => {
    done = true;
    chunks.length = 0;
    answer([{ status: 'error', index: 0, error }]);
    // Closing now would reset the connection, and a client that reads only after writing
    // everything would then lose the answer.
    const linger = setTimeout(() => conn.destroy(), LINGER_MS);
    linger.unref();
    conn.once('close', () => clearTimeout(linger));
  };
  let head: Buffer | undefined = d.firstLine === undefined ? undefined : Buffer.alloc(0);
  const checkFirstLine = (b: Buffer): Buffer | undefined => {
    head = Buffer.concat([head as Buffer, b]);
    const nl = head.indexOf(0x0a);
    if (nl < 0) {
      if (head.length > MAX_FIRST_LINE) refuse(UNAUTHENTICATED);
      return undefined;
    }
    const line = head.subarray(0, nl).toString('utf8').replace(/\r$/, '').trim();
    const rest = head.subarray(nl + 1);
    head = undefined;
    if (!(d.firstLine as (l: string) => boolean)(line)) {
      d.logger.warn({ remote: conn.remoteAddress }, 'input without the operator token, refused');
      refuse(UNAUTHENTICATED);
      return undefined;
    }
    return rest;
  };
  conn.on('data', (chunk: Buffer) => {
    if (done) return;
    let b: Buffer | undefined = chunk;
    if (head !== undefined) b = checkFirstLine(chunk);
    if (b === undefined || done) return;
    size += b.length;
    if (size > max) {
      d.logger.warn({ bytes: size }, 'input too large, refused');
      refuse(`input larger than ${max} bytes: split it into several writes`);
      return;
    }
    chunks.push(b);
    inputGrew(size, b.length);
    armIdle();
  });
  conn.on('end', () => {
    if (head !== undefined && !done) refuse(UNAUTHENTICATED);
    finish();
  });
}

const UNAUTHENTICATED =
  'unauthenticated: send the operator token as the first line, then the messages, e.g. (steward token; cat msg.json) | nc -N host port; nothing was accepted';
