import { createHmac, hash } from 'node:crypto';

const BLOCK = 64;
/** Payloads up to this size are MACed in one-shot digests (copied once); larger ones through an HMAC context. */
export const ONE_SHOT_MAX_BYTES = 64 * 1024;

/**
 * Buffers every key of this thread shares: the padded key, the text and the payload, then the
 * outer block. A MAC is made in one synchronous call, so no two use them at once; they hold
 * secrets only as long as the next MAC leaves them (as Node's own Buffer pool would).
 */
let scratch = Buffer.alloc(BLOCK + 4096);
const outer = Buffer.alloc(BLOCK + 32);
const digest = Buffer.alloc(32);

/** A message's HMAC cut in two, as base64url text: the first 16 bytes (the message's tag) and the other 16 (its ACK's). */
export interface Halves {
  readonly tag: string;
  readonly ack: string;
}

/**
 * HMAC-SHA256 (RFC 2104) under one key, made one of two equal ways (unit-tested against each
 * other and RFC 4231). For a message of up to ONE_SHOT_MAX_BYTES: two one-shot SHA-256 digests,
 * H(key ^ opad || H(key ^ ipad || text || bytes)), with the padded key blocks made once per key.
 * `createHmac` sets up an OpenSSL HMAC context for every message, which looks the digest up in
 * OpenSSL's method store each time; `crypto.hash` uses a digest Node has looked up once. In B3
 * that took central's proof cost from 11.6 to 7.9 µs per message (CPU profiles of trust on
 * against off, docs/security.md), and it is no slower after an idle pause (`npx tsx
 * bench/hmac-ways.ts`: 40-55 µs at p50 with cold caches, against 66-70 µs for `createHmac`).
 *
 * The digests come back as `latin1` text (one character per byte), written into the shared
 * buffers above. A digest asked for as a Buffer costs a new ArrayBuffer: about 0.48 µs of the
 * 0.94 µs a 520-byte digest takes here. `npx tsx bench/hmac-ways.ts`: warm 2.4-3.2 µs as Buffers,
 * 1.5-1.8 µs as text; cold p50 78-82 µs against 43-56 µs. A larger payload (a file copy's chunk)
 * goes through an HMAC context rather than being copied.
 */
export class HmacKey {
  private readonly ipad: Buffer;
  private readonly opad: Buffer;

  constructor(private readonly key: Uint8Array) {
    if (key.length > BLOCK) throw new Error('an HMAC key longer than a SHA-256 block is not used here');
    this.ipad = Buffer.alloc(BLOCK, 0x36);
    this.opad = Buffer.alloc(BLOCK, 0x5c);
    for (let i = 0; i < key.length; i++) {
      this.ipad[i] = (this.ipad[i] as number) ^ (key[i] as number);
      this.opad[i] = (this.opad[i] as number) ^ (key[i] as number);
    }
  }

  /** The MAC of `text` (UTF-8) followed by `bytes`, as its two halves. */
  halves(text: string, bytes?: Uint8Array): Halves {
    const d = bytes !== undefined && bytes.length > ONE_SHOT_MAX_BYTES ? this.byContext(text, bytes) : this.intoDigest(text, bytes);
    return { tag: d.toString('base64url', 0, 16), ack: d.toString('base64url', 16, 32) };
  }

  /** The MAC of `text` (UTF-8) followed by `bytes`. */
  mac(text: string, bytes?: Uint8Array): Buffer {
    return bytes !== undefined && bytes.length > ONE_SHOT_MAX_BYTES ? this.byContext(text, bytes) : this.oneShot(text, bytes);
  }

  /** The MAC from two one-shot digests (the message copied once behind the padded key). */
  oneShot(text: string, bytes?: Uint8Array): Buffer {
    return Buffer.from(this.intoDigest(text, bytes));
  }

  /** The MAC through a new OpenSSL HMAC context. */
  byContext(text: string, bytes?: Uint8Array): Buffer {
    const h = createHmac('sha256', this.key).update(text);
    if (bytes !== undefined) h.update(bytes);
    return h.digest();
  }

  /** The one-shot MAC, in the shared `digest` buffer (good until the next MAC). */
  private intoDigest(text: string, bytes?: Uint8Array): Buffer {
    const size = bytes?.length ?? 0;
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const room = BLOCK + text.length * 3 + size;
    if (scratch.length < room) scratch = Buffer.alloc(2 ** Math.ceil(Math.log2(room)));
    this.ipad.copy(scratch, 0);
    const end = BLOCK + scratch.write(text, BLOCK, 'utf8');
    if (bytes !== undefined) scratch.set(bytes, end);
    this.opad.copy(outer, 0);
    // 'binary' is Node's other name for latin1: one character per byte.
    outer.write(hash('sha256', scratch.subarray(0, end + size), 'binary'), BLOCK, 'latin1');
    digest.write(hash('sha256', outer, 'binary'), 0, 'latin1');
    return digest;
  }
}
