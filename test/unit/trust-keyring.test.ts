import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { Db } from '../../src/store/db.js';
import { KeyStore } from '../../src/store/keys.js';
import { fingerprint, Keyring, NEW_NAMES_PER_MINUTE, ROTATION_GRACE_MS, type KeyEvent, type TrustMode } from '../../src/trust/keyring.js';
import { pairFromSeed } from '../../src/trust/nkey.js';

const T0 = 1_700_000_000_000;
const key = (): string => pairFromSeed(randomBytes(32)).publicKey;
const SELF_KEY = key();

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.reverse()) f();
  cleanup = [];
});

/** A keyring of node `self` over a store in `dir` (a new temp dir unless given), with a clock the test moves. */
function ring(opts: { mode?: TrustMode; dir?: string; centralKey?: string } = {}) {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'steward-keyring-'));
  if (opts.dir === undefined) cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = new Db(dir);
  cleanup.push(() => db.close());
  const clock = { now: T0 };
  const events: KeyEvent[] = [];
  const keyring = new Keyring({
    store: new KeyStore(db),
    selfName: 'self',
    selfKey: SELF_KEY,
    mode: opts.mode ?? 'tofu',
    centralName: 'central',
    centralKey: opts.centralKey,
    now: () => clock.now,
    onEvent: (ev) => events.push(ev),
  });
  return { keyring, clock, events, dir, db };
}

const waits = (name: string, k: string): string =>
  `the key of ${name} (${fingerprint(k)}) waits for an operator: steward keys accept ${name}`;

describe('Keyring: trust on first use', () => {
  it('pins the key of a new name, reports it, and accepts that key from then on', () => {
    const { keyring, events } = ring();
    const k = key();
    assert.deepEqual(keyring.check('ship1', k), { ok: true, pinned: 'now' });
    assert.deepEqual(events, [
      { kind: 'pinned', name: 'ship1', publicKey: k, text: `info: pinned the key of new node ship1 on first use (${fingerprint(k)})` },
    ]);
    assert.deepEqual(keyring.check('ship1', k), { ok: true });
    assert.equal(keyring.keyOf('ship1'), k);
    assert.equal(keyring.get('ship1')?.source, 'tofu');
    assert.equal(events.length, 1);
  });

  it('refuses the 11th new name within a minute, and takes one more once the rate allows it', () => {
    const { keyring, clock, events } = ring();
    for (let i = 0; i < NEW_NAMES_PER_MINUTE; i++) assert.equal(keyring.check(`n${i}`, key()).ok, true);
    clock.now += 5_000;
    const late = key();
    assert.deepEqual(keyring.check('n10', late), {
      ok: false,
      code: 'rate',
      error: 'too many new node names (more than 10 a minute): n10 refused for now',
    });
    assert.equal(keyring.keyOf('n10'), undefined);
    assert.equal(events.length, NEW_NAMES_PER_MINUTE, 'a refused name is not reported as pinned');
    assert.equal(keyring.check('n0', keyring.keyOf('n0') ?? '').ok, true, 'names already pinned are still accepted');
    clock.now = T0 + 60_000;
    assert.deepEqual(keyring.check('n10', late), { ok: true, pinned: 'now' });
  });

  it('refuses another key for a pinned name as a conflict, and keeps the pinned key', () => {
    const { keyring, events } = ring();
    const [k, other] = [key(), key()];
    keyring.check('ship1', k);
    assert.deepEqual(keyring.check('ship1', other), {
      ok: false,
      code: 'conflict',
      error: `the key does not match the one bound to ship1 (${fingerprint(k)})`,
    });
    const ev = events.at(-1);
    assert.equal(ev?.kind, 'conflict');
    assert.equal(ev?.publicKey, other);
    assert.match(ev?.text ?? '', /^error: a message claims to be from ship1 with key .* steward keys revoke ship1/);
    assert.equal(keyring.keyOf('ship1'), k);
  });

  it('refuses a key that is not a public key', () => {
    const { keyring } = ring();
    assert.deepEqual(keyring.check('ship1', 'Unotakey'), {
      ok: false,
      code: 'bad-key',
      error: 'the key given for ship1 is not a public key (U...)',
    });
    assert.equal(keyring.get('ship1'), undefined);
  });

  it("refuses the node's own name with another key, and accepts its own key", () => {
    const { keyring, events } = ring();
    const res = keyring.check('self', key());
    assert.equal(res.ok, false);
    assert.equal(res.ok ? '' : res.code, 'conflict');
    assert.match(events.at(-1)?.text ?? '', /\(this node itself\)/);
    assert.deepEqual(keyring.check('self', SELF_KEY), { ok: true });
    assert.equal(keyring.keyOf('self'), SELF_KEY);
  });
});

describe('Keyring: operators', () => {
  it('in manual mode, lets a new name wait until an operator accepts its key', async () => {
    const { keyring, events } = ring({ mode: 'manual' });
    const k = key();
    assert.deepEqual(keyring.check('ship1', k), { ok: false, code: 'pending', error: waits('ship1', k) });
    assert.equal(events.at(-1)?.kind, 'pending');
    assert.deepEqual(keyring.check('ship1', k), { ok: false, code: 'pending', error: waits('ship1', k) });
    assert.equal(keyring.keyOf('ship1'), undefined);
    const accepted = await keyring.accept('ship1');
    assert.equal(accepted.state, 'pinned');
    assert.equal(accepted.source, 'manual');
    assert.equal(events.at(-1)?.kind, 'accepted');
    assert.deepEqual(keyring.check('ship1', k), { ok: true });
    assert.equal(keyring.keyOf('ship1'), k);
  });

  it('refuses a revoked key, and lets a new key for a revoked name wait for an operator even in tofu mode', async () => {
    const { keyring, events } = ring({ mode: 'tofu' });
    const [old, fresh] = [key(), key()];
    keyring.check('ship1', old);
    await keyring.revoke('ship1');
    assert.equal(events.at(-1)?.kind, 'revoked');
    assert.deepEqual(keyring.check('ship1', old), {
      ok: false,
      code: 'revoked',
      error: `the key of ship1 (${fingerprint(old)}) was revoked`,
    });
    assert.equal(keyring.keyOf('ship1'), undefined);
    assert.deepEqual(keyring.check('ship1', fresh), {
      ok: false,
      code: 'pending',
      error: `the new key of ship1 (${fingerprint(fresh)}) waits for an operator: steward keys accept ship1`,
    });
    assert.match(events.at(-1)?.text ?? '', /^info: ship1, whose key was revoked, presents a new key/);
    assert.equal(keyring.keyOf('ship1'), undefined);
    await keyring.accept('ship1');
    assert.deepEqual(keyring.check('ship1', fresh), { ok: true });
    assert.equal(keyring.check('ship1', old).ok, false);
  });

  it('refuses names that were not imported once keys are imported', async () => {
    const { keyring, events } = ring();
    const [k1, k2] = [key(), key()];
    const changes = await keyring.import(new Map([['ship1', k1]]));
    assert.deepEqual(changes, [{ name: 'ship1', publicKey: k1, change: 'added' }]);
    assert.deepEqual(keyring.check('ship1', k1), { ok: true });
    assert.deepEqual(keyring.check('ship2', k2), {
      ok: false,
      code: 'unknown',
      error: 'ship2 is not a known node (its key was not imported)',
    });
    assert.equal(events.at(-1)?.kind, 'refused');
    assert.equal(keyring.keyOf('ship2'), undefined);
    const again = await keyring.import(
      new Map([
        ['ship1', k1],
        ['ship2', k2],
        ['self', key()],
      ]),
    );
    assert.deepEqual(
      again.map((c) => [c.name, c.change]),
      [
        ['ship1', 'same'],
        ['ship2', 'added'],
      ],
      "the node's own name is not imported",
    );
    assert.deepEqual((await keyring.import(new Map([['ship1', k2]])))[0]?.change, 'replaced');
    assert.equal(keyring.check('ship1', k1).ok, false);
  });

  it('binds a rotated key and accepts the previous one for the grace time only', async () => {
    const { keyring, clock, events } = ring();
    const [old, next] = [key(), key()];
    keyring.check('ship1', old);
    await keyring.rotate('ship1', next);
    assert.equal(events.at(-1)?.kind, 'rotated');
    assert.equal(keyring.keyOf('ship1'), next);
    assert.deepEqual(keyring.check('ship1', next), { ok: true });
    clock.now = T0 + ROTATION_GRACE_MS - 1;
    assert.deepEqual(keyring.check('ship1', old), { ok: true });
    clock.now = T0 + ROTATION_GRACE_MS;
    assert.equal(keyring.check('ship1', old).ok, false);
    assert.equal(events.at(-1)?.kind, 'conflict');
    assert.deepEqual(keyring.check('ship1', next), { ok: true });
  });

  it('refuses to rotate a name that has no pinned key', async () => {
    const { keyring } = ring({ mode: 'manual' });
    await assert.rejects(keyring.rotate('ship1', key()), { message: 'ship1 has no pinned key to rotate' });
    keyring.check('ship1', key());
    await assert.rejects(keyring.rotate('ship1', key()), { message: 'ship1 has no pinned key to rotate' });
    await assert.rejects(keyring.accept('ship9'), { message: 'no key is known for ship9' });
    await assert.rejects(keyring.revoke('ship9'), { message: 'no key is known for ship9' });
  });

  it('gives keyOf only pinned keys (not pending or revoked ones)', async () => {
    const { keyring } = ring({ mode: 'manual' });
    const k = key();
    keyring.check('ship1', k);
    assert.equal(keyring.keyOf('ship1'), undefined);
    await keyring.accept('ship1');
    assert.equal(keyring.keyOf('ship1'), k);
    await keyring.revoke('ship1');
    assert.equal(keyring.keyOf('ship1'), undefined);
    assert.equal(keyring.keyOf('nobody'), undefined);
  });

  it('binds -centralPublicKey over a key pinned earlier, and reports the replacement', async () => {
    const [pinned, given] = [key(), key()];
    const first = ring();
    first.keyring.check('central', pinned);
    first.db.close();
    const { keyring, events } = ring({ dir: first.dir, centralKey: given });
    assert.equal(keyring.keyOf('central'), pinned);
    await keyring.provisionCentral();
    assert.equal(keyring.keyOf('central'), given);
    assert.equal(keyring.get('central')?.source, 'provisioned');
    assert.match(events[0]?.text ?? '', /^info: the key of central was set by -centralPublicKey/);
    assert.equal(keyring.check('central', pinned).ok, false);
  });
});

describe('Keyring: durability', () => {
  it('keeps pinned, pending, revoked and rotated keys, and the import mode, across a new Keyring over the same store', async () => {
    const a = ring();
    const [k1, k2old, k2new, k3old, k3new, k4] = [key(), key(), key(), key(), key(), key()];
    a.keyring.check('pinned1', k1);
    a.keyring.check('rotated2', k2old);
    await a.keyring.rotate('rotated2', k2new);
    a.keyring.check('revoked3', k3old);
    await a.keyring.revoke('revoked3');
    a.keyring.check('revoked3', k3new); // waits for an operator
    await a.keyring.import(new Map([['imported4', k4]]));
    a.db.close();

    const b = ring({ dir: a.dir });
    b.clock.now = T0 + 1000;
    assert.deepEqual(b.keyring.check('pinned1', k1), { ok: true });
    assert.equal(b.keyring.check('pinned1', key()).ok, false);
    assert.deepEqual(b.keyring.check('rotated2', k2new), { ok: true });
    assert.deepEqual(b.keyring.check('rotated2', k2old), { ok: true }, 'still in its grace time');
    assert.deepEqual(b.keyring.check('revoked3', k3new), { ok: false, code: 'pending', error: waits('revoked3', k3new) });
    assert.equal(b.keyring.check('revoked3', k3old).ok, false);
    assert.deepEqual(b.keyring.check('imported4', k4), { ok: true });
    const stranger = b.keyring.check('stranger', key());
    assert.equal(stranger.ok ? '' : stranger.code, 'unknown');
    assert.deepEqual(
      b.keyring.list().map((r) => [r.name, r.state]),
      [
        ['imported4', 'pinned'],
        ['pinned1', 'pinned'],
        ['revoked3', 'pending'],
        ['rotated2', 'pinned'],
      ],
    );
    b.clock.now = T0 + ROTATION_GRACE_MS;
    assert.equal(b.keyring.check('rotated2', k2old).ok, false);
  });
});
