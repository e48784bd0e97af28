/**
 * The ways to make one message's HMAC-SHA256, warm and cold: `npx tsx bench/hmac-ways.ts`.
 * Warm: 300,000 in a row. Cold: 40 each after 60 ms of sleep (as between B1's samples) and a
 * write over 8 MB (the caches then hold other data), p50 and p90. A B1-sized message: the proof's
 * prefix and 400 bytes. Each way gives what a proof needs: the two halves of the MAC as base64url
 * text. The last way is what `src/trust/hmac-key.ts` makes (HmacKey.halves). One way hashes in
 * JavaScript (never used by steward): whether a cold MAC pays for OpenSSL's code or for caches
 * holding other data (2026-12-06: 67-73 µs cold at p50, against 46-50 µs for HmacKey.halves;
 * 13 against 1.1 µs warm).
 */
import { createHash, createHmac, hash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { HmacKey } from '../src/trust/hmac-key.js';

const key = randomBytes(32);
const payload = randomBytes(400);
const prefix = 'steward-proof-v2\nship1.REQCliCommand.CommandACK\ncentral\ncbor\nz\n';
const one = new HmacKey(key);
const ipad = Buffer.alloc(64, 0x36);
const opad = Buffer.alloc(64, 0x5c);
for (let i = 0; i < key.length; i++) {
  ipad[i] = (ipad[i] as number) ^ (key[i] as number);
  opad[i] = (opad[i] as number) ^ (key[i] as number);
}
const inner = createHash('sha256').update(ipad);
const outer = createHash('sha256').update(opad);

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W = new Uint32Array(64);
const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));
/** SHA-256 (FIPS 180-4) in JavaScript, for the comparison only (messages under 512 MB). */
function sha256Js(m: Uint8Array): Buffer {
  const n = ((m.length + 9 + 63) >> 6) << 6;
  const b = Buffer.alloc(n);
  b.set(m);
  b[m.length] = 0x80;
  b.writeUInt32BE(m.length * 8, n - 4);
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  for (let o = 0; o < n; o += 64) {
    for (let i = 0; i < 16; i++) W[i] = b.readUInt32BE(o + 4 * i);
    for (let i = 16; i < 64; i++) {
      const x = W[i - 15] as number;
      const y = W[i - 2] as number;
      W[i] =
        ((W[i - 16] as number) + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + (W[i - 7] as number) + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10))) |
        0;
    }
    let [a, bb, c, d, e, f, g, hh] = h as unknown as number[] as [number, number, number, number, number, number, number, number];
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + (K[i] as number) + (W[i] as number)) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      [hh, g, f, e, d, c, bb, a] = [g, f, e, (d + t1) | 0, c, bb, a, (t1 + t2) | 0];
    }
    [a, bb, c, d, e, f, g, hh].forEach((v, i) => (h[i] = ((h[i] as number) + v) | 0));
  }
  const out = Buffer.alloc(32);
  h.forEach((v, i) => out.writeUInt32BE(v, 4 * i));
  return out;
}

const halves = (d: Buffer): string => `${d.toString('base64url', 0, 16)} ${d.toString('base64url', 16, 32)}`;
/** The one-shot digests asked for as Buffers (HmacKey's way before 2026-12-06's second change). */
const asBuffers = (): Buffer => {
  const textBytes = Buffer.byteLength(prefix);
  const innerBytes = Buffer.allocUnsafe(64 + textBytes + payload.length);
  ipad.copy(innerBytes, 0);
  innerBytes.write(prefix, 64, 'utf8');
  innerBytes.set(payload, 64 + textBytes);
  const outerBytes = Buffer.allocUnsafe(96);
  opad.copy(outerBytes, 0);
  hash('sha256', innerBytes, 'buffer').copy(outerBytes, 64);
  return hash('sha256', outerBytes, 'buffer');
};

const ways: Record<string, () => string> = {
  'createHmac (an OpenSSL HMAC context per message)': () => halves(createHmac('sha256', key).update(prefix).update(payload).digest()),
  'copied hash states of the padded key': () => halves(outer.copy().update(inner.copy().update(prefix).update(payload).digest()).digest()),
  'two one-shot digests, each a new Buffer': () => halves(asBuffers()),
  'two digests by a SHA-256 written in JavaScript (not used by steward)': () => {
    const innerBytes = Buffer.concat([ipad, Buffer.from(prefix), payload]);
    return halves(sha256Js(Buffer.concat([opad, sha256Js(innerBytes)])));
  },
  'two one-shot digests as latin1 text into shared buffers (HmacKey.halves)': () => {
    const h = one.halves(prefix, payload);
    return `${h.tag} ${h.ack}`;
  },
};

const want = ways['createHmac (an OpenSSL HMAC context per message)']?.() as string;
for (const [name, f] of Object.entries(ways)) if (f() !== want) throw new Error(`${name} gives another MAC`);

const flush = Buffer.alloc(8 << 20);
for (let round = 1; round <= 2; round++) {
  for (const [name, f] of Object.entries(ways)) {
    const n = 300_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    const warm = ((performance.now() - t0) * 1000) / n;
    const cold: number[] = [];
    for (let i = 0; i < 40; i++) {
      await sleep(60);
      for (let j = 0; j < flush.length; j += 64) flush[j] = j;
      const t = process.hrtime.bigint();
      f();
      cold.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    cold.sort((a, b) => a - b);
    process.stdout.write(
      `round ${round}: ${name}: warm ${warm.toFixed(2)} µs; cold p50 ${cold[20]?.toFixed(1)} µs, p90 ${cold[36]?.toFixed(1)} µs\n`,
    );
  }
}
