import { createHash, createHmac, type Hash } from 'node:crypto';

const BLOCK = 64;
/** After this long without a MAC (ms), the node counts as idle: its caches are cold. */
const IDLE_MS = 10;
/** When this process last made a MAC (performance.now()). */
let lastMacMs = Number.NEGATIVE_INFINITY;

/**
 * HMAC-SHA256 (RFC 2104) under one key, made one of two equal ways (unit-tested against each
 * other and RFC 4231) by how busy the node is. `createHmac` sets up an OpenSSL MAC context for
 * every message, which looks the digest up again; on a node that was idle (a lone command, as
 * B1) that setup runs with cold caches and was most of the MAC's cost, 82 µs against 55 µs for
 * copying the hash states after the key's two padded blocks, made once per key. On a busy node
 * (a burst, as B3) it is the other way round: `createHmac` makes fewer objects, and B3 ran about
 * 6% slower with copies. So a MAC after IDLE_MS without one copies the states; the others use
 * `createHmac`. Figures: docs/security.md.
 */
export class HmacKey {
  private states: { inner: Hash; outer: Hash } | undefined;

  constructor(private readonly key: Uint8Array) {
    if (key.length > BLOCK) throw new Error('an HMAC key longer than a SHA-256 block is not used here');
  }

  /** The MAC of `text` (UTF-8) followed by `bytes`. */
  mac(text: string, bytes?: Uint8Array): Buffer {
    const now = performance.now();
    const idle = now - lastMacMs > IDLE_MS;
    lastMacMs = now;
    return idle ? this.byCopies(text, bytes) : this.byContext(text, bytes);
  }

  /** The MAC through a new OpenSSL HMAC context (cheaper when the node is busy). */
  byContext(text: string, bytes?: Uint8Array): Buffer {
    const h = createHmac('sha256', this.key).update(text);
    if (bytes !== undefined) h.update(bytes);
    return h.digest();
  }

  /** The MAC from copies of the padded key's hash states (cheaper when the node was idle). */
  byCopies(text: string, bytes?: Uint8Array): Buffer {
    const s = (this.states ??= this.padded());
    const h = s.inner.copy().update(text);
    if (bytes !== undefined) h.update(bytes);
    return s.outer.copy().update(h.digest()).digest();
  }

  private padded(): { inner: Hash; outer: Hash } {
    const ipad = Buffer.alloc(BLOCK, 0x36);
    const opad = Buffer.alloc(BLOCK, 0x5c);
    for (let i = 0; i < this.key.length; i++) {
      ipad[i] = (ipad[i] as number) ^ (this.key[i] as number);
      opad[i] = (opad[i] as number) ^ (this.key[i] as number);
    }
    return { inner: createHash('sha256').update(ipad), outer: createHash('sha256').update(opad) };
  }
}
