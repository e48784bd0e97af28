/**
 * The framing between a node and its spawn helper (src/spawn/helper-main.ts), both ways over
 * pipes: `[u32 length of the rest][u8 type][u32 job id][payload]`, big-endian. Output chunks are
 * carried as raw bytes; the spawn request and the exit are small JSON payloads.
 */
export const FRAME = {
  /** node -> helper: run a command (JSON SpawnRequest). */
  spawn: 1,
  /** node -> helper: stop reading a job's pipes (its command has exited; background children may hold them). */
  close: 2,
  /** helper -> node: the command started (JSON {pid}). */
  pid: 10,
  /** helper -> node: the command could not start (UTF-8 error text). */
  error: 11,
  stdout: 12,
  stderr: 13,
  /** helper -> node: a pipe reached its end (payload: 0 stdout, 1 stderr). */
  end: 14,
  /** helper -> node: the command exited (JSON {code, signal}). */
  exit: 15,
} as const;
export type FrameType = (typeof FRAME)[keyof typeof FRAME];

export interface SpawnRequest {
  readonly cmd: string;
  readonly args: readonly string[];
  /** Variables set on top of the helper's environment (which is the node's). */
  readonly env?: Record<string, string>;
  /** Bytes of each stream forwarded at most (the rest is read and dropped); -1 = all. */
  readonly stdoutCap: number;
  readonly stderrCap: number;
}

const HEADER = 9;

export function encodeFrame(type: FrameType, id: number, payload?: Uint8Array | string): Buffer {
  const body = payload === undefined ? EMPTY : typeof payload === 'string' ? Buffer.from(payload) : payload;
  const frame = Buffer.allocUnsafe(HEADER + body.length);
  frame.writeUInt32BE(5 + body.length, 0);
  frame.writeUInt8(type, 4);
  frame.writeUInt32BE(id, 5);
  frame.set(body, HEADER);
  return frame;
}

const EMPTY = Buffer.alloc(0);

/** Cuts a byte stream into frames; call `push` with each chunk read. */
export class FrameReader {
  private buffered: Buffer = EMPTY;

  constructor(private readonly onFrame: (type: number, id: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    let at = 0;
    while (buf.length - at >= 4) {
      const size = buf.readUInt32BE(at);
      if (buf.length - at - 4 < size) break;
      this.onFrame(buf.readUInt8(at + 4), buf.readUInt32BE(at + 5), buf.subarray(at + HEADER, at + 4 + size));
      at += 4 + size;
    }
    buf = buf.subarray(at);
    // Kept only while a frame is incomplete; copied so the chunk it came from can be freed.
    this.buffered = buf.length === 0 ? EMPTY : Buffer.from(buf);
  }
}
