import type * as ZlibLib from 'node:zlib';
import type * as ZstdLib from '@mongodb-js/zstd';
import type * as CborLib from 'cbor-x';
import { lazy } from '../lib/lazy.js';
import { MESSAGE_ID } from './id.js';
import { FIELDS, MAX_TIMEOUT_MS, NODE_NAME, NODE_NAME_RULE, type FieldRule, type Message } from './message.js';

const zstd = lazy<typeof ZstdLib>('@mongodb-js/zstd');
// An idle node encodes and decodes nothing: CBOR (with its native string extractor) and zlib
// are loaded with the first message.
const cbor = lazy<typeof CborLib>('cbor-x');
const zlib = lazy<typeof ZlibLib>('node:zlib');

/**
 * The wire format: the message serialized as CBOR (default) or JSON, optionally compressed
 * with zstd (`z`) or gzip (`g`). Headers `serial` and `cmp` say which, so a receiver decodes
 * whatever any sender chose.
 */
export interface WireOptions {
  readonly serialization: 'cbor' | 'json';
  readonly compression: '' | 'g' | 'z';
}

export interface Encoded {
  payload: Uint8Array;
  headers: Record<string, string>;
}

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

export async function encodeMessage(msg: Message, opts: WireOptions): Promise<Encoded> {
  let payload: Uint8Array = opts.serialization === 'json' ? Buffer.from(JSON.stringify(msg)) : cbor().encode(msg);
  const headers: Record<string, string> = { serial: opts.serialization };
  if (opts.compression === 'g') {
    payload = zlib().gzipSync(payload);
    headers.cmp = 'g';
  } else if (opts.compression === 'z') {
    payload = await zstd().compress(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), 3);
    headers.cmp = 'z';
  }
  return { payload, headers };
}

/** Decodes a payload using the `serial` and `cmp` headers; throws DecodeError when it cannot. */
export async function decodeMessage(payload: Uint8Array, header: (name: string) => string): Promise<Message> {
  let bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const cmp = header('cmp');
  try {
    if (cmp === 'g') bytes = zlib().gunzipSync(bytes, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
    else if (cmp === 'z') {
      // The zstd binding has no output limit (a few hundred KiB can claim gigabytes and crash the
      // process): bound the size from the frame headers first.
      const bound = zstdSizeBound(bytes);
      if (bound > MAX_DECOMPRESSED_BYTES)
        throw new Error(`it would decompress to up to ${bound} bytes, more than ${MAX_DECOMPRESSED_BYTES}`);
      bytes = await zstd().decompress(bytes);
    }
  } catch (err) {
    throw new DecodeError(`cannot decompress payload (cmp=${cmp}): ${(err as Error).message}`);
  }
  const serial = header('serial') || 'cbor';
  let value: unknown;
  try {
    value = serial === 'json' ? JSON.parse(bytes.toString('utf8')) : cbor().decode(bytes);
  } catch (err) {
    throw new DecodeError(`cannot decode ${serial} payload: ${(err as Error).message}`);
  }
  return checkShape(value);
}

/** Largest size a compressed payload may decompress to. */
const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;
/** Largest output of one zstd block (RFC 8878, Block_Maximum_Size). */
const ZSTD_BLOCK_MAX = 128 * 1024;

/**
 * An upper bound of what zstd data decompresses to, read from its frame and block headers
 * (RFC 8878) without decompressing: raw and RLE blocks give their size, a compressed block
 * gives at most 128 KiB. Throws on data that is not a sequence of zstd frames.
 */
export function zstdSizeBound(b: Buffer): number {
  let pos = 0;
  let total = 0;
  const need = (n: number): void => {
    if (pos + n > b.length) throw new Error('truncated zstd data');
  };
  while (pos < b.length) {
    need(4);
    const magic = b.readUInt32LE(pos);
    if (magic >>> 4 === 0x184d2a5) {
      // A skippable frame: magic, 4-byte length, content.
      need(8);
      pos += 8 + b.readUInt32LE(pos + 4);
      need(0);
      continue;
    }
    if (magic !== 0xfd2fb528) throw new Error('not zstd data');
    pos += 4;
    need(1);
    const fhd = b[pos] as number;
    const singleSegment = (fhd >> 5) & 1;
    const dictIdBytes = [0, 1, 2, 4][fhd & 3] as number;
    const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][fhd >> 6] as number;
    pos += 1 + (singleSegment ? 0 : 1) + dictIdBytes + contentSizeBytes;
    for (;;) {
      need(3);
      const h = b.readUIntLE(pos, 3);
      pos += 3;
      const type = (h >> 1) & 3;
      const size = h >>> 3;
      if (type === 0) {
        total += size;
        pos += size;
      } else if (type === 1) {
        total += size;
        pos += 1;
      } else if (type === 2) {
        total += ZSTD_BLOCK_MAX;
        pos += size;
      } else throw new Error('reserved zstd block type');
      need(0);
      if (h & 1) break;
    }
    if ((fhd >> 2) & 1) pos += 4; // content checksum
    need(0);
  }
  return total;
}

/** The largest time a Date holds (ECMAScript: 8.64e15 ms after 1970). */
const MAX_DATE_MS = 8.64e15;

/**
 * Messages from the wire come from other nodes (or anyone allowed on the broker): check before
 * trusting. Only the known fields are kept, so what a sender adds (a CBOR BigInt, nesting
 * deeper than JSON.stringify can go) cannot make the message impossible to store and ACK.
 */
function checkShape(v: unknown): Message {
  const msg = checkFields(v, 'payload', true) as unknown as Message;
  const prev = (v as Record<string, unknown>).previousMessage;
  if (prev !== undefined) {
    if (prev === null || typeof prev !== 'object' || Array.isArray(prev))
      throw new DecodeError('payload field previousMessage is not an object');
    // A reply's result path is built from the request it answers: the same checks.
    msg.previousMessage = checkFields(prev, 'payload field previousMessage', false) as unknown as NonNullable<Message['previousMessage']>;
  }
  return msg;
}

function checkFields(v: unknown, where: string, withData: boolean): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DecodeError(`${where} is not a message object`);
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [f, rule] of Object.entries(FIELDS) as [keyof typeof FIELDS, FieldRule][]) {
    if (f === 'data' && !withData) continue;
    const value = o[f];
    if (rule.endsWith('?') && value === undefined) continue;
    out[f] = checkField(value, rule, `${where} field ${f}`);
  }
  return out;
}

/** One field by its rule (see FIELDS): the value to keep, or a DecodeError saying what is wrong. */
function checkField(value: unknown, rule: FieldRule, what: string): unknown {
  switch (rule) {
    case 'string':
    case 'string?':
      if (typeof value !== 'string') throw new DecodeError(`${what} is not a string`);
      return value;
    case 'id':
      // Quoted back in ACKs and error lines, which must fit the broker's max payload.
      if (typeof value !== 'string') throw new DecodeError(`${what} is not a string`);
      if (!MESSAGE_ID.test(value)) throw new DecodeError(`${what} is not a message id (1 to 256 letters, digits, - and _)`);
      return value;
    case 'node':
    case 'node?':
      // Node names become subject tokens and folder names; an optional one may also be empty.
      if (typeof value !== 'string') throw new DecodeError(`${what} is not a string`);
      if (value === '' ? rule === 'node' : !NODE_NAME.test(value)) {
        throw new DecodeError(`${what} is not a valid node name (${NODE_NAME_RULE})`);
      }
      return value;
    case 'strings':
      if (!Array.isArray(value) || !value.every((x) => typeof x === 'string')) throw new DecodeError(`${what} is not a list of strings`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw new DecodeError(`${what} is not a boolean`);
      return value;
    case 'number':
    case 'ms':
    case 'time':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new DecodeError(`${what} is not a number`);
      // A time must be one a Date can hold (it is written in result and error lines).
      if (rule === 'time' && !(value >= 0 && value <= MAX_DATE_MS))
        throw new DecodeError(`${what} is not a time (milliseconds since 1970)`);
      // A timer cannot wait longer: a longer timeout would fire at once.
      return rule === 'ms' && value > MAX_TIMEOUT_MS ? MAX_TIMEOUT_MS : value;
  }
}
