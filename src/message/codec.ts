import { gunzipSync, gzipSync } from 'node:zlib';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { decode as cborDecode, encode as cborEncode } from 'cbor-x';
import type { Message } from './message.js';

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
  let payload: Uint8Array =
    opts.serialization === 'json' ? Buffer.from(JSON.stringify(msg)) : (cborEncode(msg));
  const headers: Record<string, string> = { serial: opts.serialization };
  if (opts.compression === 'g') {
    payload = gzipSync(payload);
    headers.cmp = 'g';
  } else if (opts.compression === 'z') {
    payload = await zstdCompress(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), 3);
    headers.cmp = 'z';
  }
  return { payload, headers };
}

/** Decodes a payload using the `serial` and `cmp` headers; throws DecodeError when it cannot. */
export async function decodeMessage(payload: Uint8Array, header: (name: string) => string): Promise<Message> {
  let bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const cmp = header('cmp');
  try {
    if (cmp === 'g') bytes = gunzipSync(bytes, { maxOutputLength: 256 * 1024 * 1024 });
    else if (cmp === 'z') bytes = await zstdDecompress(bytes);
  } catch (err) {
    throw new DecodeError(`cannot decompress payload (cmp=${cmp}): ${(err as Error).message}`);
  }
  const serial = header('serial') || 'cbor';
  let value: unknown;
  try {
    value = serial === 'json' ? JSON.parse(bytes.toString('utf8')) : cborDecode(bytes);
  } catch (err) {
    throw new DecodeError(`cannot decode ${serial} payload: ${(err as Error).message}`);
  }
  return checkShape(value);
}

const STRING_FIELDS = ['id', 'toNode', 'fromNode', 'method', 'replyMethod', 'directory', 'fileName', 'relayViaNode', 'relayReplyMethod'] as const;
const NUMBER_FIELDS = ['ackTimeoutMs', 'retries', 'replyAckTimeoutMs', 'replyRetries', 'methodTimeoutMs', 'replyMethodTimeoutMs', 'createdMs'] as const;
const LIST_FIELDS = ['methodArgs', 'replyMethodArgs', 'data'] as const;

/** Messages from the wire come from other nodes (or anyone allowed on the broker): check before trusting. */
function checkShape(v: unknown): Message {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DecodeError('payload is not a message object');
  const o = v as Record<string, unknown>;
  for (const f of STRING_FIELDS) if (typeof o[f] !== 'string') throw new DecodeError(`payload field ${f} is not a string`);
  for (const f of NUMBER_FIELDS) if (typeof o[f] !== 'number' || !Number.isFinite(o[f])) throw new DecodeError(`payload field ${f} is not a number`);
  for (const f of LIST_FIELDS) {
    const l = o[f];
    if (!Array.isArray(l) || !l.every((x) => typeof x === 'string')) throw new DecodeError(`payload field ${f} is not a list of strings`);
  }
  if (typeof o.isReply !== 'boolean') throw new DecodeError('payload field isReply is not a boolean');
  if (o.previousMessage !== undefined && (o.previousMessage === null || typeof o.previousMessage !== 'object')) {
    throw new DecodeError('payload field previousMessage is not an object');
  }
  return o as unknown as Message;
}
