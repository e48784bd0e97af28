import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { encodeUserPublicKey, pairFromSeed } from '../../src/trust/nkey.js';
import { PROOF_HEADER, Proofs, type Sealed } from '../../src/trust/proof.js';
import { keyedNode, type KeyedNode } from '../support/unit-trust.js';

const MISMATCH = 'the proof does not match the message (bad proof, or one made for other bytes or another subject)';
const nodes: KeyedNode[] = [];
after(() => {
  for (const n of nodes) n.close();
});

/** A node with its own key and a keyring over a store of its own (tofu). */
function node(name: string): KeyedNode {
  const n = keyedNode(name);
  nodes.push(n);
  return n;
}

/** `b` has pinned `a`'s key. */
function knows(b: KeyedNode, a: KeyedNode): void {
  assert.equal(b.keyring.check(a.name, a.pair.publicKey).ok, true);
}

const headerOf =
  (h: Record<string, string>) =>
  (name: string): string =>
    h[name] ?? '';
const payload = (): Buffer => Buffer.from('{"method":"REQCliCommand","methodArgs":["uptime"]}');
const SUBJECT = 'b.REQCliCommand.CommandACK';
/** The proof of a sealed (long) ACK. */
const proofOf = (bytes: Buffer): string => (JSON.parse(bytes.toString()) as { proof: string }).proof;
const WIRE = { serial: 'json', cmp: 'zstd' };

/** The headers `a` seals a message for `to` with. */
const sealed = (a: KeyedNode, to = 'b', subject = SUBJECT): Record<string, string> => a.proofs.seal(subject, to, payload(), WIRE).headers;
/** The three fields of a proof header. */
const fields = (h: Record<string, string>): { from: string; key: string; proof: string } => {
  const [from = '', key = '', proof = ''] = (h[PROOF_HEADER] ?? '').split(' ');
  return { from, key, proof };
};
/** `h` with some of its proof header's fields replaced. */
const withFields = (h: Record<string, string>, change: Partial<{ from: string; key: string; proof: string }>): Record<string, string> => {
  const f = { ...fields(h), ...change };
  return { ...h, [PROOF_HEADER]: `${f.from} ${f.key} ${f.proof}` };
};

describe('Proofs: messages', () => {
  it('signs a message for a node whose key the sender does not know, and the receiver opens it as the sender’s', () => {
    const [a, b] = [node('a'), node('b')];
    const s = a.proofs.seal(SUBJECT, 'b', payload(), WIRE);
    const h = s.headers;
    assert.deepEqual(fields(h).from, 'a');
    assert.deepEqual(fields(h).key, a.pair.publicKey);
    assert.match(fields(h).proof, /^s2\.[A-Za-z0-9_-]{86}$/);
    assert.equal(h.serial, 'json');
    assert.equal(s.ackProof, undefined, 'a signed message is answered by a long ACK');
    assert.deepEqual(b.proofs.open(SUBJECT, payload(), headerOf(h)), { ok: true, from: 'a', key: a.pair.publicKey });
    assert.deepEqual(
      b.events.map((e) => [e.kind, e.name]),
      [['pinned', 'a']],
    );
  });

  it('proves a message with a MAC once the sender knows the receiver’s key, and the receiver opens it', () => {
    const [a, b] = [node('a'), node('b')];
    knows(a, b);
    const s = a.proofs.seal(SUBJECT, 'b', payload(), WIRE);
    assert.match(fields(s.headers).proof, /^m2\.[A-Za-z0-9_-]{22}$/, 'the first 16 bytes of the HMAC');
    assert.match(s.ackProof ?? '', /^[A-Za-z0-9_-]{22}$/, 'the other 16 bytes of the HMAC');
    // The receiver computes the other half: what its ACK shows.
    assert.deepEqual(b.proofs.open(SUBJECT, payload(), headerOf(s.headers)), {
      ok: true,
      from: 'a',
      key: a.pair.publicKey,
      ackProof: s.ackProof,
    });
  });

  for (const kind of ['signed', 'MACed'] as const) {
    it(`refuses a ${kind} message whose payload, subject or wire headers were changed`, () => {
      const [a, b] = [node('a'), node('b')];
      if (kind === 'MACed') knows(a, b);
      const h = sealed(a);
      const flipped = payload();
      flipped[5] = (flipped[5] as number) ^ 1;
      const refused = { ok: false, error: MISMATCH, from: 'a' };
      assert.deepEqual(b.proofs.open(SUBJECT, flipped, headerOf(h)), refused);
      assert.deepEqual(b.proofs.open('b.REQOpProcessStart.CommandACK', payload(), headerOf(h)), refused);
      assert.deepEqual(b.proofs.open(SUBJECT, payload(), headerOf({ ...h, serial: 'cbor' })), refused);
      assert.deepEqual(b.proofs.open(SUBJECT, payload(), headerOf({ ...h, cmp: '' })), refused);
      assert.deepEqual(b.events, [], 'nothing is pinned for a message that is not proven');
    });
  }

  it('refuses a message without its proof header, or with a field of it missing or one too many, as unauthenticated', () => {
    const [a, b] = [node('a'), node('b')];
    const h = sealed(a);
    const { [PROOF_HEADER]: whole = '', ...rest } = h;
    const [from, key, proof] = whole.split(' ');
    for (const value of [undefined, '', `${from} ${key}`, `${from}`, ` ${key} ${proof}`, `${whole} extra`]) {
      assert.deepEqual(b.proofs.open(SUBJECT, payload(), headerOf(value === undefined ? rest : { ...rest, [PROOF_HEADER]: value })), {
        ok: false,
        error: 'unauthenticated: the message carries no proof of origin',
      });
    }
  });

  it('refuses a garbage proof, a key that is not a key, and a sender that is not a node name', () => {
    const [a, b] = [node('a'), node('b')];
    knows(a, b);
    const h = sealed(a);
    const open = (change: Partial<{ from: string; key: string; proof: string }>): ReturnType<Proofs['open']> =>
      b.proofs.open(SUBJECT, payload(), headerOf(withFields(h, change)));
    const good = fields(h).proof;
    // The same 16 bytes spelt otherwise: the last character's unused bits changed.
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = ALPHABET.indexOf(good.at(-1) as string);
    const respelt = `${good.slice(0, -1)}${ALPHABET[last ^ 1] as string}`;
    assert.deepEqual(Buffer.from(respelt.slice(3), 'base64url'), Buffer.from(good.slice(3), 'base64url'));
    for (const proof of [
      respelt,
      'garbage',
      'm2.',
      `m2.${randomBytes(16).toString('base64url')}`,
      `m2.${randomBytes(32).toString('base64url')}`,
      `${good}AAAA`,
      `s2.${randomBytes(64).toString('base64url')}`,
      `m1.${good.slice(3)}`,
      'x1.AAAA',
    ]) {
      assert.deepEqual(open({ proof }), { ok: false, error: MISMATCH, from: 'a' });
    }
    assert.deepEqual(open({ key: 'Unotakey' }), { ok: false, error: "the proof's key is not a public key", from: 'a' });
    // Whatever the kind of proof (a MAC's key is decoded only the first time it is seen).
    for (const proof of [`s2.${randomBytes(64).toString('base64url')}`, 'x1.AAAA', good]) {
      assert.deepEqual(open({ key: `U${'A'.repeat(55)}`, proof }), { ok: false, error: "the proof's key is not a public key", from: 'a' });
    }
    assert.deepEqual(open({ key: a.pair.seedText }), {
      ok: false,
      error: "the proof's key is not a public key",
      from: 'a',
    });
    assert.deepEqual(open({ from: 'a.b' }), { ok: false, error: 'the proof names no valid node' });
  });

  it('refuses a message another node proves with its own key in the name of a node already known', () => {
    const [a, b, c] = [node('a'), node('b'), node('c')];
    knows(b, a);
    // c holds its own key only: it seals as c, then claims a's name (the name is in the proof).
    const asC = sealed(c);
    assert.deepEqual(b.proofs.open(SUBJECT, payload(), headerOf(withFields(asC, { from: 'a' }))), {
      ok: false,
      error: MISMATCH,
      from: 'a',
    });
    // A node named a in its own proofs, with another key than the one b bound to a.
    const impostor = new Proofs({ name: 'a', pair: c.pair }, c.keyring);
    const res = b.proofs.open(SUBJECT, payload(), headerOf(impostor.seal(SUBJECT, 'b', payload(), WIRE).headers));
    assert.equal(res.ok, false);
    assert.match(res.ok ? '' : res.error, /^the key does not match the one bound to a \(SHA256:/);
    assert.equal(b.events.at(-1)?.kind, 'conflict');
  });

  it('refuses a message replayed to another node (its proof is for the subject of its receiver)', () => {
    const [a, b, d] = [node('a'), node('b'), node('d')];
    knows(a, b);
    const h = sealed(a);
    assert.deepEqual(d.proofs.open('d.REQCliCommand.CommandACK', payload(), headerOf(h)), { ok: false, error: MISMATCH, from: 'a' });
  });

  it('refuses a MAC proof made with a low-order key instead of throwing', () => {
    const b = node('b');
    const lowOrder = encodeUserPublicKey(Buffer.alloc(32));
    const h = { ...WIRE, [PROOF_HEADER]: `a ${lowOrder} m2.${'A'.repeat(22)}` };
    assert.deepEqual(b.proofs.open(SUBJECT, payload(), headerOf(h)), { ok: false, error: MISMATCH, from: 'a' });
  });
});

describe('Proofs: ACKs', () => {
  const ack = { id: 'M1', status: 'ok' } as const;

  it('opens an ACK as the answer of the node the message went to, and of no other', () => {
    const [a, b] = [node('a'), node('b')];
    knows(b, a);
    knows(a, b);
    const bytes = Buffer.from(b.proofs.sealAck(ack, 'a', 'M1'));
    assert.match(proofOf(bytes), /^m2\./);
    assert.deepEqual(a.proofs.openAck(bytes, 'b', 'M1'), ack);
    assert.equal(a.proofs.openAck(bytes, 'c', 'M1'), 'the ACK is from b, not from c');
    assert.equal(a.proofs.openAck(bytes, 'b', 'M2'), 'the ACK is not proven by its key');
  });

  it('opens a signed ACK from a node that does not know the sender yet', () => {
    const [a, b] = [node('a'), node('b')];
    const bytes = Buffer.from(b.proofs.sealAck(ack, 'a', 'M1'));
    assert.match(proofOf(bytes), /^s2\./);
    assert.deepEqual(a.proofs.openAck(bytes, 'b', 'M1'), ack);
  });

  it('refuses an ACK whose body was changed, or that is not an ACK at all', () => {
    const [a, b] = [node('a'), node('b')];
    const sealed = JSON.parse(b.proofs.sealAck(ack, 'a', 'M1')) as Record<string, string>;
    const forged = Buffer.from(JSON.stringify({ ...sealed, body: JSON.stringify({ id: 'M1', status: 'rejected' }) }));
    assert.equal(a.proofs.openAck(forged, 'b', 'M1'), 'the ACK is not proven by its key');
    assert.equal(a.proofs.openAck(Buffer.from('not json'), 'b', 'M1'), 'the answer is not an ACK');
    for (const text of ['null', '1', '"x"']) assert.equal(a.proofs.openAck(Buffer.from(text), 'b', 'M1'), 'the answer is not an ACK', text);
    assert.equal(a.proofs.openAck(Buffer.from(JSON.stringify(ack)), 'b', 'M1'), 'the ACK carries no proof of origin');
    assert.equal(
      a.proofs.openAck(Buffer.from(JSON.stringify({ ...sealed, key: 'Ugarbage' })), 'b', 'M1'),
      "the ACK's key is not a public key",
    );
  });

  it('refuses an ACK another node proves with its own key in the name of the receiver', () => {
    const [a, b, c] = [node('a'), node('b'), node('c')];
    knows(a, b);
    const impostor = new Proofs({ name: 'b', pair: c.pair }, c.keyring);
    const res = a.proofs.openAck(Buffer.from(impostor.sealAck(ack, 'a', 'M1')), 'b', 'M1');
    assert.match(res as string, /^the ACK's key is not accepted for b: the key does not match the one bound to b/);
  });

  it('proves an ACK with the key the message came with when one is given (peerKey)', () => {
    const [a, b] = [node('a'), node('b')];
    knows(b, a);
    // a rotates: b still binds the old key, the message it answers was proven by the new one.
    const next = pairFromSeed(randomBytes(32));
    a.proofs.rotateTo(next);
    a.keyring.setSelfKey(next.publicKey);
    const byBinding = Buffer.from(b.proofs.sealAck(ack, 'a', 'M1'));
    const byPeerKey = Buffer.from(b.proofs.sealAck(ack, 'a', 'M1', next.publicKey));
    assert.match(proofOf(byPeerKey), /^m2\./);
    assert.equal(a.proofs.openAck(byBinding, 'b', 'M1'), 'the ACK is not proven by its key');
    assert.deepEqual(a.proofs.openAck(byPeerKey, 'b', 'M1'), ack);
  });

  it('uses the peerKey even for a node whose key is not bound at all', () => {
    const [a, b] = [node('a'), node('b')];
    const bytes = Buffer.from(b.proofs.sealAck(ack, 'a', 'M1', a.pair.publicKey));
    assert.match(proofOf(bytes), /^m2\./);
    assert.deepEqual(a.proofs.openAck(bytes, 'b', 'M1'), ack);
  });
});

describe('Proofs: short ACKs (the other half of a MACed message’s HMAC)', () => {
  /** a sends b a MACed message; b opens it. */
  function exchange(): { a: KeyedNode; b: KeyedNode; s: Sealed; ackProof: Buffer; opened: ReturnType<Proofs['open']> } {
    const [a, b] = [node('a'), node('b')];
    knows(a, b);
    const s = a.proofs.seal(SUBJECT, 'b', payload(), WIRE);
    assert.equal(s.peerKey, b.pair.publicKey);
    return {
      a,
      b,
      s,
      ackProof: Buffer.from(s.ackProof as string, 'base64url'),
      opened: b.proofs.open(SUBJECT, payload(), headerOf(s.headers)),
    };
  }
  const short = (b: KeyedNode, opened: ReturnType<Proofs['open']>, status: 'ok' | 'duplicate' | 'rejected'): Buffer => {
    assert.equal(opened.ok, true);
    const o = opened as { key: string; ackProof?: string };
    return Buffer.from(b.proofs.sealAck({ id: 'M1', status }, 'a', 'M1', o.key, o.ackProof));
  };

  it('delivers the message it answers: ok and duplicate, with no other MAC', () => {
    const { a, b, s, opened } = exchange();
    for (const status of ['ok', 'duplicate'] as const) {
      const bytes = short(b, opened, status);
      assert.match(bytes.toString(), new RegExp(`^a2 ${status} [A-Za-z0-9_-]{22}$`));
      assert.deepEqual(a.proofs.openAck(bytes, 'b', 'M1', s), { id: 'M1', status });
    }
  });

  it('is refused for another message (its proof is bound to the bytes of the one it answers)', () => {
    const { a, b, opened } = exchange();
    knows(a, b);
    const other = a.proofs.seal(SUBJECT, 'b', Buffer.from('{"method":"REQCliCommand","methodArgs":["id"]}'), WIRE);
    assert.equal(a.proofs.openAck(short(b, opened, 'ok'), 'b', 'M2', other), 'the ACK is not proven by its key');
  });

  it('is refused when the message was signed (no HMAC to show half of), garbled, or forged by a node that saw the message', () => {
    const { a, b, s, ackProof, opened } = exchange();
    const bytes = short(b, opened, 'ok');
    assert.equal(a.proofs.openAck(bytes, 'b', 'M1'), 'a short ACK answers only a MACed message');
    // Whoever sees the message on the wire sees the first half of the HMAC, not the second.
    const seen = Buffer.from(fields(sealed(a)).proof.slice(3), 'base64url').toString('base64url');
    assert.equal(a.proofs.openAck(Buffer.from(`a2 ok ${seen}`), 'b', 'M1', s), 'the ACK is not proven by its key');
    for (const text of [
      'a2 ok',
      `a2 rejected ${ackProof.toString('base64url')}`,
      `a2 ok ${ackProof.toString('base64url')}x`,
      `a2  ok ${ackProof.toString('base64url')}`,
    ]) {
      assert.equal(a.proofs.openAck(Buffer.from(text), 'b', 'M1', s), 'the ACK is malformed', text);
    }
    const flipped = Buffer.from(ackProof);
    flipped[0] = (flipped[0] as number) ^ 1;
    assert.equal(a.proofs.openAck(Buffer.from(`a2 ok ${flipped.toString('base64url')}`), 'b', 'M1', s), 'the ACK is not proven by its key');
    // The same 16 bytes spelt another way (the last character's unused bits changed): only the
    // spelling the receiver makes counts.
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const good = ackProof.toString('base64url');
    const respelt = `${good.slice(0, -1)}${ALPHABET[ALPHABET.indexOf(good.at(-1) as string) ^ 1] as string}`;
    assert.deepEqual(Buffer.from(respelt, 'base64url'), ackProof);
    assert.equal(a.proofs.openAck(Buffer.from(`a2 ok ${respelt}`), 'b', 'M1', s), 'the ACK is not proven by its key');
  });

  it('is never used for a refusal: a rejected ACK carries its body and a proof of it', () => {
    const { a, b, s, opened } = exchange();
    const bytes = short(b, opened, 'rejected');
    assert.match(proofOf(bytes), /^m2\./);
    assert.deepEqual(a.proofs.openAck(bytes, 'b', 'M1', s), { id: 'M1', status: 'rejected' });
  });

  it('does not let a long ACK deliver a MACed message, nor a key of the receiver other than the one it was MACed for refuse it', async () => {
    // b's key was stolen, so b rotated; a still accepts the old key for the grace time (messages b
    // sent before it switched). Whoever holds the old key sees a's message to b on the broker and
    // answers first.
    const [a, b] = [node('a'), node('b')];
    knows(a, b);
    knows(b, a);
    const next = pairFromSeed(randomBytes(32));
    await a.keyring.rotate('b', next.publicKey);
    const s = a.proofs.seal(SUBJECT, 'b', payload(), WIRE);
    assert.equal(s.peerKey, next.publicKey);
    for (const status of ['ok', 'rejected'] as const) {
      const forged = Buffer.from(b.proofs.sealAck({ id: 'M1', status }, 'a', 'M1', a.pair.publicKey));
      assert.equal(
        (JSON.parse(forged.toString()) as { key: string }).key,
        b.pair.publicKey,
        'proven by the old key, which a still accepts for b',
      );
      assert.match(
        a.proofs.openAck(forged, 'b', 'M1', s) as string,
        status === 'ok' ? /^a MACed message is delivered only by a short ACK$/ : /^the refusal is proven by another key of b than the one/,
      );
    }
    // Before this rule a message was lost this way: the same ACK counts for a signed message.
    assert.deepEqual(a.proofs.openAck(Buffer.from(b.proofs.sealAck({ id: 'M1', status: 'ok' }, 'a', 'M1', a.pair.publicKey)), 'b', 'M1'), {
      id: 'M1',
      status: 'ok',
    });
  });
});

describe('Proofs: signatures of bytes', () => {
  it('verifies a signature by its signer’s key only, and not for other bytes', () => {
    const [a, b] = [node('a'), node('b')];
    const sig = a.proofs.signBytes(Buffer.from('request'));
    assert.equal(b.proofs.verifyBytes(a.pair.publicKey, Buffer.from('request'), sig), true);
    assert.equal(b.proofs.verifyBytes(b.pair.publicKey, Buffer.from('request'), sig), false);
    assert.equal(b.proofs.verifyBytes(a.pair.publicKey, Buffer.from('requesT'), sig), false);
    assert.equal(b.proofs.verifyBytes('Unotakey', Buffer.from('request'), sig), false);
    assert.equal(b.proofs.verifyBytes(a.pair.publicKey, Buffer.from('request'), 'short'), false);
    assert.equal(Proofs.signWith(a.pair, Buffer.from('request')), sig);
  });
});
