import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { HmacKey } from '../../src/trust/hmac-key.js';

const hmac = (key: Buffer, ...parts: (string | Uint8Array)[]): Buffer => {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('HmacKey', () => {
  it('is HMAC-SHA256 (RFC 4231 test case 2)', () => {
    const m = new HmacKey(Buffer.from('Jefe'));
    assert.equal(m.mac('what do ya want for nothing?').toString('hex'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('equals createHmac for keys of 0 to 64 bytes and messages of every size, text then bytes, many times over one key', () => {
    for (const keyLength of [0, 1, 16, 32, 63, 64]) {
      const key = randomBytes(keyLength);
      const m = new HmacKey(key);
      for (const size of [0, 1, 55, 56, 63, 64, 65, 400, 70_000]) {
        const bytes = randomBytes(size);
        assert.deepEqual(
          m.mac('steward-proof-v2\nsubject\né\n', bytes),
          hmac(key, 'steward-proof-v2\nsubject\né\n', bytes),
          `${keyLength} ${size}`,
        );
        assert.deepEqual(m.mac(`text only ${size}`), hmac(key, `text only ${size}`));
      }
    }
  });

  it('refuses a key longer than a block (ours are 32 bytes)', () => {
    assert.throws(() => new HmacKey(randomBytes(65)), /longer than a SHA-256 block/);
  });
});
