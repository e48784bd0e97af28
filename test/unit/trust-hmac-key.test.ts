import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { HmacKey, ONE_SHOT_MAX_BYTES } from '../../src/trust/hmac-key.js';

const hmac = (key: Buffer, ...parts: (string | Uint8Array)[]): Buffer => {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('HmacKey', () => {
  it('is HMAC-SHA256 both ways (RFC 4231 test case 2)', () => {
    const m = new HmacKey(Buffer.from('Jefe'));
    const expected = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843';
    assert.equal(m.byContext('what do ya want for nothing?').toString('hex'), expected);
    assert.equal(m.oneShot('what do ya want for nothing?').toString('hex'), expected);
    assert.equal(m.mac('what do ya want for nothing?').toString('hex'), expected);
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

  it('gives the same MAC both ways, for text that is not ASCII and payloads on both sides of the one-shot bound', () => {
    const key = randomBytes(32);
    const m = new HmacKey(key);
    for (const size of [0, 1, ONE_SHOT_MAX_BYTES - 1, ONE_SHOT_MAX_BYTES, ONE_SHOT_MAX_BYTES + 1, 1024 * 1024]) {
      const bytes = randomBytes(size);
      const want = hmac(key, 'ünïcödé ✓ subject\n', bytes);
      assert.deepEqual(m.oneShot('ünïcödé ✓ subject\n', bytes), want, `oneShot ${size}`);
      assert.deepEqual(m.byContext('ünïcödé ✓ subject\n', bytes), want, `byContext ${size}`);
      assert.deepEqual(m.mac('ünïcödé ✓ subject\n', bytes), want, `mac ${size}`);
    }
  });

  it('gives the two halves of the MAC as base64url text, for every size, with keys used in turn (its scratch buffers shared)', () => {
    const keys = [randomBytes(32), randomBytes(32), randomBytes(7)];
    const macs = keys.map((k) => new HmacKey(k));
    // Sizes that grow the shared scratch buffer, then shrink, then pass the one-shot bound.
    for (const size of [0, 1, 400, 5000, 40, ONE_SHOT_MAX_BYTES - 1, ONE_SHOT_MAX_BYTES, 3, ONE_SHOT_MAX_BYTES + 1, 1024 * 1024, 400]) {
      const bytes = randomBytes(size);
      for (const text of ['steward-proof-v2\nship1.REQToFileAppend.EventACK\ncentral\ncbor\n\n', 'ünïcödé ✓ subject\n', '']) {
        keys.forEach((key, i) => {
          const want = hmac(key, text, bytes);
          const got = (macs[i] as HmacKey).halves(text, bytes);
          assert.deepEqual(
            got,
            { tag: want.toString('base64url', 0, 16), ack: want.toString('base64url', 16, 32) },
            `${i} ${size} ${text.length}`,
          );
        });
      }
    }
    const key = randomBytes(32);
    const want = hmac(key, 'text only');
    assert.deepEqual(new HmacKey(key).halves('text only'), {
      tag: want.toString('base64url', 0, 16),
      ack: want.toString('base64url', 16, 32),
    });
  });

  it('refuses a key longer than a block (ours are 32 bytes)', () => {
    assert.throws(() => new HmacKey(randomBytes(65)), /longer than a SHA-256 block/);
  });
});
