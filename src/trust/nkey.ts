import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * NATS nkeys, the key format of `-nkeySeedFile` and of node identities: an Ed25519 key in
 * base32 with a type prefix and a CRC-16 (a user seed `SU...`, a user public key `U...`). The
 * encoding is a few lines, so it is written here (node:crypto does the Ed25519), and the NATS
 * client stays in transport/ only.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** nkey prefix bytes: seed, and the user key type. */
const PREFIX_SEED = 18 << 3;
const PREFIX_USER = 20 << 3;

/** An Ed25519 identity read from an nkey seed or made anew. */
export interface NkeyPair {
  /** The seed as it is written in a seed file (`SU...`). */
  readonly seedText: string;
  /** The public key as nkeys write it (`U...`, 56 characters). */
  readonly publicKey: string;
  /** The raw 32-byte Ed25519 seed. */
  readonly seed: Buffer;
  readonly privateKey: KeyObject;
}

export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Buffer | undefined {
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of text) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) return undefined;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** CRC-16/XMODEM, as nkeys use it. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function withCrc(body: Buffer): Buffer {
  const crc = Buffer.alloc(2);
  crc.writeUInt16LE(crc16(body));
  return Buffer.concat([body, crc]);
}

/** The body of an nkey text with a valid checksum, or undefined. */
function checked(text: string): Buffer | undefined {
  const raw = base32Decode(text);
  if (raw === undefined || raw.length < 4) return undefined;
  const body = raw.subarray(0, raw.length - 2);
  return raw.readUInt16LE(raw.length - 2) === crc16(body) ? body : undefined;
}

/** `U...` for a raw 32-byte Ed25519 public key. */
export function encodeUserPublicKey(raw: Uint8Array): string {
  return base32Encode(withCrc(Buffer.concat([Buffer.from([PREFIX_USER]), raw])));
}

/**
 * Keys decoded before: every message and ACK carries its sender's key, and decoding one (base32
 * and its checksum) cost about 7 µs a message in B3's profile. Only valid keys are kept; the map
 * starts over when full, so a flood of made-up keys costs memory only up to the bound.
 */
const decoded = new Map<string, Buffer>();
const DECODED_AT_MOST = 4096;

/** The raw 32-byte Ed25519 public key of a `U...` key; undefined when it is not one. Do not modify it. */
export function decodeUserPublicKey(text: string): Buffer | undefined {
  const known = decoded.get(text);
  if (known !== undefined) return known;
  if (!/^U[A-Z2-7]{55}$/.test(text)) return undefined;
  const body = checked(text);
  if (body === undefined || body.length !== 33 || body[0] !== PREFIX_USER) return undefined;
  if (decoded.size >= DECODED_AT_MOST) decoded.clear();
  const raw = body.subarray(1);
  decoded.set(text, raw);
  return raw;
}

/** The key pair of a user seed (`SU...`); a string says what is wrong with it. */
export function pairFromSeedText(text: string): NkeyPair | string {
  const body = checked(text);
  if (body === undefined) return 'is not a valid nkey seed (bad encoding or checksum)';
  const b0 = body[0] as number;
  const b1 = body[1] as number;
  if ((b0 & 0xf8) !== PREFIX_SEED || body.length !== 34) return 'is not a valid nkey seed';
  if ((((b0 & 7) << 5) | ((b1 & 0xf8) >> 3)) !== PREFIX_USER) return 'holds an operator or account seed, not a user seed (SU...)';
  return pairFromSeed(body.subarray(2));
}

/** The key pair of a raw 32-byte Ed25519 seed. */
export function pairFromSeed(seed: Buffer): NkeyPair {
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410): a fixed 16-byte prefix.
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const raw = spki.subarray(spki.length - 32);
  const b0 = PREFIX_SEED | (PREFIX_USER >> 5);
  const b1 = (PREFIX_USER & 31) << 3;
  return {
    seedText: base32Encode(withCrc(Buffer.concat([Buffer.from([b0, b1]), seed]))),
    publicKey: encodeUserPublicKey(raw),
    seed: Buffer.from(seed),
    privateKey,
  };
}

/**
 * Finds the user seed in the text of a seed file (a bare `SU...` line, as `nk -gen user` writes,
 * or the seed block of a decorated creds file). Returns the pair, or why there is none.
 */
export function parseSeedFile(text: string): NkeyPair | { problem: string } {
  const candidates = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => /^S[A-Z2-7]{40,}$/.test(l));
  if (candidates.length === 0) return { problem: 'holds no nkey seed (a line starting with SU)' };
  const line = candidates.find((l) => l.startsWith('SU')) ?? candidates[0] ?? '';
  const pair = pairFromSeedText(line);
  return typeof pair === 'string' ? { problem: pair } : pair;
}
