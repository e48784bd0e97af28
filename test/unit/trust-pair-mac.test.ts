import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { PairMac } from '../../src/trust/pair-mac.js';

const hmac = (key: Buffer, ...parts: (string | Uint8Array)[]): Buffer => {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('PairMac', () => {
  it('is HMAC-SHA256 of the text then the bytes, for each message: one after another, several in one turn, and after idle turns', async () => {
    const key = randomBytes(32);
    const m = new PairMac(key);
    const payloads = [randomBytes(0), randomBytes(1), randomBytes(400), randomBytes(70_000)];
    // Several in one turn: the HMAC set up ahead serves the first only.
    for (const p of payloads) assert.deepEqual(m.mac('steward-proof-v2\nsubject\n', p), hmac(key, 'steward-proof-v2\nsubject\n', p));
    await turn();
    assert.deepEqual(m.mac('é text only'), hmac(key, 'é text only'));
    for (let i = 0; i < 3; i++) {
      await turn();
      await turn();
      const p = randomBytes(100 + i);
      assert.deepEqual(m.mac(`t${i}`, p), hmac(key, `t${i}`, p));
    }
  });

  it('keeps the keys of two pairs apart', () => {
    const [k1, k2] = [randomBytes(32), randomBytes(32)];
    const [m1, m2] = [new PairMac(k1), new PairMac(k2)];
    assert.deepEqual(m1.mac('x'), hmac(k1, 'x'));
    assert.deepEqual(m2.mac('x'), hmac(k2, 'x'));
    assert.notDeepEqual(m1.mac('x'), m2.mac('x'));
  });
});
