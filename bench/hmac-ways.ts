/**
 * The ways to make one message's HMAC-SHA256, warm and cold: `npx tsx bench/hmac-ways.ts`.
 * Warm: 300,000 in a row. Cold: 40 each after 60 ms of sleep (as between B1's samples) and a
 * write over 8 MB (the caches then hold other data), p50 and p90. A B1-sized message: the proof's
 * prefix and 400 bytes. Each way gives what a proof needs: the two halves of the MAC as base64url
 * text. The last way is what `src/trust/hmac-key.ts` makes (HmacKey.halves).
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
