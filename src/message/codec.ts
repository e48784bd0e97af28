import type * as ZlibLib from 'node:zlib';
import type * as CborLib from 'cbor-x';
import { lazy } from '../lib/lazy.js';
import { MESSAGE_ID } from './id.js';
import { FIELDS, MAX_TIMEOUT_MS, NODE_NAME, NODE_NAME_RULE, type FieldRule, type Message } from './message.js';

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
  /** The serialized message before compression: no message may be larger than the broker's max payload, compressed or not. */
  plainBytes: number;
}

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

export async function encodeMessage(msg: Message, opts: WireOptions): Promise<Encoded> {
  let payload: Uint8Array = opts.serialization === 'json' ? Buffer.from(JSON.stringify(msg)) : cbor().encode(msg);
  const plainBytes = payload.length;
  const headers: Record<string, string> = { serial: opts.serialization };
  if (opts.compression === 'g') {
    payload = zlib().gzipSync(payload);
    headers.cmp = 'g';
  } else if (opts.compression === 'z') {
    const z = zlib();
    payload = z.zstdCompressSync(payload, { params: { [z.constants.ZSTD_c_compressionLevel]: 3 } });
    headers.cmp = 'z';
  }
  return { payload, headers, plainBytes };
}

/**
 * Decodes a payload using the `serial` and `cmp` headers; throws DecodeError when it cannot. A
 * compressed payload may not inflate beyond `maxBytes`: no honest sender makes a message larger
 * than the broker's max payload, compressed or not (the inputs refuse one), so decompression stops
 * right there and the message is refused (a 255 KB bomb costs ~1 MB, not 256 MB).
 */
export async function decodeMessage(payload: Uint8Array, header: (name: string) => string, maxBytes = DEFAULT_MAX_BYTES): Promise<Message> {
  let bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const cmp = header('cmp');
  try {
    if (cmp === 'g') bytes = zlib().gunzipSync(bytes, { maxOutputLength: maxBytes });
    else if (cmp === 'z') bytes = zlib().zstdDecompressSync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why =
      code === 'ERR_BUFFER_TOO_LARGE' ? `it inflates beyond ${maxBytes} bytes (more than any message may be)` : (err as Error).message;
    throw new DecodeError(`cannot decompress payload (cmp=${cmp}): ${why}`);
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

/** What a payload may decompress to when the caller names no bound (a broker's default max payload, plus room). */
const DEFAULT_MAX_BYTES = 1024 * 1024 + 64 * 1024;
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

/** FIELDS as a list, made once (every message received walks it). */
const FIELD_LIST = (Object.entries(FIELDS) as [keyof typeof FIELDS, FieldRule][]).map(([name, rule]) => ({
  name,
  rule,
  optional: rule.endsWith('?'),
}));

function checkFields(v: unknown, where: string, withData: boolean): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DecodeError(`${where} is not a message object`);
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const { name, rule, optional } of FIELD_LIST) {
    if (name === 'data' && !withData) continue;
    const value = o[name];
    if (optional && value === undefined) continue;
    out[name] = checkField(value, rule, `${where} field ${name}`);
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
