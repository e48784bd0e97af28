import { createHmac, hash } from 'node:crypto';

const BLOCK = 64;
/** Payloads up to this size are MACed in one-shot digests (copied once); larger ones through an HMAC context. */
export const ONE_SHOT_MAX_BYTES = 64 * 1024;

/**
 * HMAC-SHA256 (RFC 2104) under one key, made one of two equal ways (unit-tested against each
 * other and RFC 4231). For a message of up to ONE_SHOT_MAX_BYTES: two one-shot SHA-256 digests,
 * H(key ^ opad || H(key ^ ipad || text || bytes)), with the padded key blocks made once per key.
 * `createHmac` sets up an OpenSSL HMAC context for every message, which looks the digest up in
 * OpenSSL's method store each time; `crypto.hash` uses a digest Node has looked up once. In B3
 * that took central's proof cost from 11.6 to 7.9 µs per message (CPU profiles of trust on
 * against off, docs/security.md), and it is no slower after an idle pause (`npx tsx
 * bench/hmac-ways.ts`: 40-55 µs at p50 with cold caches, against 66-70 µs for `createHmac`). A larger payload (a file copy's chunk) goes
 * through an HMAC context rather than being copied.
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

  /** The MAC of `text` (UTF-8) followed by `bytes`. */
  mac(text: string, bytes?: Uint8Array): Buffer {
    return bytes !== undefined && bytes.length > ONE_SHOT_MAX_BYTES ? this.byContext(text, bytes) : this.oneShot(text, bytes);
  }

  /** The MAC from two one-shot digests (the message copied once behind the padded key). */
  oneShot(text: string, bytes?: Uint8Array): Buffer {
    const textBytes = Buffer.byteLength(text);
    const inner = Buffer.allocUnsafe(BLOCK + textBytes + (bytes?.length ?? 0));
    this.ipad.copy(inner, 0);
    inner.write(text, BLOCK, 'utf8');
    if (bytes !== undefined) inner.set(bytes, BLOCK + textBytes);
    const outer = Buffer.allocUnsafe(BLOCK + 32);
    this.opad.copy(outer, 0);
    hash('sha256', inner, 'buffer').copy(outer, BLOCK);
    return hash('sha256', outer, 'buffer');
  }

  /** The MAC through a new OpenSSL HMAC context. */
  byContext(text: string, bytes?: Uint8Array): Buffer {
    const h = createHmac('sha256', this.key).update(text);
    if (bytes !== undefined) h.update(bytes);
    return h.digest();
  }
}
