import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeMessage } from '../../src/message/codec.js';
import { newId } from '../../src/message/id.js';
import type { Message } from '../../src/message/message.js';
import { fingerprint } from '../../src/trust/keyring.js';
import { eventually } from '../support/eventually.js';
import { HostileWorld, SUBJECT, wireMessage, zstdBomb } from '../support/hostile.js';
import { PROOF_HEADER } from '../../src/trust/proof.js';
import { readSeed, RogueNode, withProof, writeFreshSeed } from '../support/rogue.js';

const CBOR = { serialization: 'cbor', compression: '' } as const;
const HELLO = 'central.REQHello.EventNACK';

/** A hello to central that says it is from `fromNode`. */
const hello = (fromNode: string): Message =>
  wireMessage({ toNode: 'central', method: 'REQHello', fromNode, methodArgs: [], replyMethod: 'REQNone', directory: '', fileName: '' });

/**
 * What a node refuses before it reads a payload (no proof, a proof that is not for these bytes,
 * this subject or this name's key) and what the proofs do not let a stolen key do: speak for
 * another node, or have a node take a reply to a request it never sent.
 */
describe('proofs of origin on the NATS subjects of a node', () => {
  let w: HostileWorld;
  const clients: RogueNode[] = [];
  const connect = async (name: string, seedFile: string): Promise<RogueNode> => {
    const c = await w.connect(name, seedFile);
    clients.push(c);
    return c;
  };

  before(async () => {
    w = await HostileWorld.start();
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await w?.stop();
  });

  it('a message with no proof is refused before it is read, with an answer and an error line at central', async () => {
    const refused = (bytes: number, claim = ''): RegExp =>
      new RegExp(
        `^error: refused a message on ship1\\.REQCliCommand\\.CommandACK \\(${bytes} bytes\\)${claim}: unauthenticated: the message carries no proof of origin$`,
      );
    await w.assertRejected(randomBytes(777), {}, refused(777), { prove: false });
    // A command that would run, and a bomb that would cost the decompressor: neither is read.
    const { msg, file } = w.markerCommand('unproven');
    const e = await encodeMessage(msg, CBOR);
    await w.assertRejected(e.payload, e.headers, refused(e.payload.length), { prove: false });
    const bomb = zstdBomb(33_000);
    await w.assertRejected(bomb, { cmp: 'z' }, refused(bomb.length), { prove: false });
    // A name and a key, but no proof.
    const partial = { ...e.headers, [PROOF_HEADER]: `central ${w.rogue.pair.publicKey}` };
    await w.assertRejected(e.payload, partial, refused(e.payload.length, ' claiming to be from central'), { prove: false });
    assert.match(
      await w.errorLogLine('(777 bytes)'),
      /node: ship1, error: refused a message on ship1\.REQCliCommand\.CommandACK \(777 bytes\): unauthenticated/,
    );
    await w.assertStillServing();
    assert.equal(fs.existsSync(file), false, 'the unproven command did not run');
  });

  it('a proof that is not for these bytes, this subject or these headers is refused', async () => {
    const { msg, file } = w.markerCommand('misproven');
    const e = await encodeMessage(msg, CBOR);
    const other = await encodeMessage(w.markerCommand('other').msg, CBOR);
    const proofOf = (subject: string, toNode: string, payload: Uint8Array, headers = e.headers): Record<string, string> =>
      w.rogue.seal(subject, toNode, payload, headers);
    const noMatch = /claiming to be from central: the proof does not match the message/;
    const cases: [string, Record<string, string>][] = [
      ['a correct proof over other bytes', proofOf(SUBJECT, 'ship1', other.payload)],
      ['a proof for another subject of the node', proofOf('ship1.REQToFileAppend.EventACK', 'ship1', e.payload)],
      ['a proof for the same subject of another node', proofOf('central.REQCliCommand.CommandACK', 'central', e.payload)],
      ['a proof made with other wire headers', { ...proofOf(SUBJECT, 'ship1', e.payload, { serial: 'json' }), serial: 'cbor' }],
      ['a proof with cmp added after it was made', { ...proofOf(SUBJECT, 'ship1', e.payload), cmp: 'g' }],
      ['a random MAC', withProof(proofOf(SUBJECT, 'ship1', e.payload), { proof: `m2.${randomBytes(16).toString('base64url')}` })],
      ['a random signature', withProof(proofOf(SUBJECT, 'ship1', e.payload), { proof: `s2.${randomBytes(64).toString('base64url')}` })],
      ['a proof of an unknown kind', withProof(proofOf(SUBJECT, 'ship1', e.payload), { proof: 'x9.abc' })],
    ];
    for (const [what, hdrs] of cases) {
      const ack = await w.ask(e.payload, hdrs, { prove: false });
      assert.equal(ack.status, 'rejected', `${what}: ${JSON.stringify(ack)}`);
      assert.match(ack.error ?? '', noMatch, what);
    }
    const good = proofOf(SUBJECT, 'ship1', e.payload);
    await w.assertRejected(e.payload, withProof(good, { key: 'Unot-a-key' }), /the proof's key is not a public key/, { prove: false });
    await w.assertRejected(e.payload, withProof(good, { from: '../central' }), /the proof names no valid node/, { prove: false });
    assert.match(
      await w.errorLogLine('the proof does not match the message'),
      /node: ship1, error: refused a message on ship1\.REQCliCommand\.CommandACK \(\d+ bytes\) claiming to be from central/,
    );
    await w.assertStillServing();
    assert.equal(fs.existsSync(file), false, 'the misproven command did not run');
  });

  it('a key that is not the one pinned for its name is refused, and central is told of the conflict', async () => {
    // A message central really sent binds its key to its name on ship1 (first use).
    await w.assertStillServing();
    const seedFile = writeFreshSeed(w.work, 'impostor');
    const impostorKey = readSeed(seedFile).publicKey;
    const centralKey = w.rogue.pair.publicKey;
    const asCentral = await connect('central', seedFile);
    const { msg, file } = w.markerCommand('impostor');
    const e = await encodeMessage(msg, CBOR);
    await w.assertRejected(e.payload, e.headers, /the key does not match the one bound to central \(SHA256:/, { as: asCentral });
    assert.ok(
      await w.errorLogLine(
        `node: ship1, error: a message claims to be from central with key ${fingerprint(impostorKey)}, but central is bound to ${fingerprint(centralKey)} (pinned): refused`,
      ),
    );
    // Its own name, on itself: the node knows its own key.
    const asShip1 = await connect('ship1', seedFile);
    const own = await encodeMessage(w.markerCommand('impostor-self', { fromNode: 'ship1' }).msg, CBOR);
    await w.assertRejected(own.payload, own.headers, /the key does not match the one bound to ship1/, { as: asShip1 });
    await w.errorLogLine(`a message claims to be from ship1 with key ${fingerprint(impostorKey)}`, /\(this node itself\): refused/);
    await w.assertStillServing();
    assert.equal(fs.existsSync(file), false, 'the impostor command did not run');
  });

  it('a hello speaks only for its signer: another name is refused, a new key is pinned and logged under its own name', async () => {
    const ship1Key = await connect('ship1', RogueNode.identityOf(w.ship1.dir));
    const spoofed = hello('ship9');
    const s = await encodeMessage(spoofed, CBOR);
    await w.assertRejected(s.payload, s.headers, /^it says it is from ship9, but its proof is by ship1$/, { as: ship1Key, subject: HELLO });
    await w.errorLogLine(spoofed.id, /refused message \S+ \(REQHello\) from ship1: it says it is from ship9, but its proof is by ship1/);
    // Its own hello is taken.
    const own = await encodeMessage(hello('ship1'), CBOR);
    assert.equal((await w.ask(own.payload, own.headers, { as: ship1Key, subject: HELLO })).status, 'ok');
    // A name no node had, proven by a key nobody knew: pinned on first use, logged under that name.
    const probe = `probe-${process.pid}`;
    const fresh = await connect(probe, writeFreshSeed(w.work, probe));
    const p = await encodeMessage(hello(probe), CBOR);
    assert.equal((await w.ask(p.payload, p.headers, { as: fresh, subject: HELLO })).status, 'ok');
    assert.match(
      await eventually(() => w.central.readData('hello-messages', probe, 'hello.log'), {
        what: 'the hello of the new node',
        timeoutMs: 30_000,
      }),
      new RegExp(`Received hello from "${probe}"`),
    );
    await eventually(() => w.central.readData('hello-messages', 'ship1', 'hello.log'), { what: "ship1's own hello" });
    // Its log line reaches us through a pipe, maybe after the file was written.
    await eventually(() => w.central.stderr.includes(`pinned the key of new node ${probe} on first use`), {
      what: 'the pinned line in central log',
    });
    assert.equal(fs.existsSync(path.join(w.central.dataDir, 'hello-messages', 'ship9')), false, 'no hello was logged for ship9');
    // Pinned is not trusted: the default policy lets it say hello, not command a node.
    const cmd = await encodeMessage(w.markerCommand('newcomer', { fromNode: probe }).msg, CBOR);
    await w.assertRejected(
      cmd.payload,
      cmd.headers,
      new RegExp(`^denied by the policy of ship1: ${probe} may not REQCliCommand \\(rule: default deny \\(no rule matched\\)\\)$`),
      { as: fresh },
    );
  });

  it('a node name that would climb out of the data folder is rejected, not written', async () => {
    const escape = `steward-escape-${process.pid}-${Date.now()}`;
    const climb = `../../../${escape}`;
    const outside = path.join(os.tmpdir(), escape);
    try {
      // A reply (REQToFileAppend) whose result path would be built from its fromNode.
      const reply = wireMessage({ method: 'REQToFileAppend', isReply: true, fromNode: climb, data: ['escaped\n'], directory: 'x' });
      const r = await encodeMessage(reply, CBOR);
      await w.assertRejected(r.payload, r.headers, /fromNode/, { subject: 'ship1.REQToFileAppend.EventACK' });
      // A hello whose log path would be built from its fromNode.
      const h = await encodeMessage(hello(climb), CBOR);
      await w.assertRejected(h.payload, h.headers, /fromNode/, { subject: HELLO });
      await w.assertStillServing();
      assert.equal(fs.existsSync(outside), false, `${outside} was written`);
      assert.equal(fs.existsSync(path.join(w.ship1.dir, escape)), false);
      assert.equal(fs.existsSync(path.join(w.central.dir, escape)), false);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a reply that answers no request of the receiver is refused, and nothing is written (its request named a climbing method)', async () => {
    const escape = `steward-fuzz-escape-${process.pid}`;
    const outside = path.join(w.ship1.dir, '..', `${escape}.result`);
    try {
      // No fileName: the result file would be named after the request's method, here a climbing one.
      const { data: _data, ...request } = wireMessage({ method: `../../../${escape}`, toNode: 'ship1' });
      const reply = (id: string): Message =>
        wireMessage({
          id,
          method: 'REQToFileAppend',
          isReply: true,
          data: ['contained\n'],
          directory: 'fz',
          fileName: '',
          previousMessage: request,
        });
      const unmatched = reply(`${newId()}-r0`);
      const e = await encodeMessage(unmatched, CBOR);
      const subject = 'ship1.REQToFileAppend.EventACK';
      const never = new RegExp(`^reply ${unmatched.id} from central refused: ship1 never sent ${unmatched.id.slice(0, -3)}$`);
      await w.assertRejected(e.payload, e.headers, never, { subject });
      await w.errorLogLine(unmatched.id, /node: ship1, error: refused message \S+ \(REQToFileAppend\) from central: reply .* never sent/);
      const noReplyId = await encodeMessage(reply(newId()), CBOR);
      await w.assertRejected(noReplyId.payload, noReplyId.headers, /refused: its id is not the id of a reply$/, { subject });
      await w.assertStillServing();
      assert.equal(fs.existsSync(outside), false, `${outside} was written`);
      assert.equal(fs.existsSync(path.join(w.ship1.dataDir, 'fz')), false, 'the refused reply wrote nothing');
    } finally {
      fs.rmSync(outside, { force: true });
    }
  });

  it('a command the stolen key asks for runs on ship1, but central refuses its reply: central never sent the request', async () => {
    const { msg, file } = w.markerCommand('stolen', { replyMethod: 'REQToFileAppend', directory: 'stolen', fileName: 'out.txt' });
    const e = await encodeMessage(msg, CBOR);
    assert.deepEqual(await w.ask(e.payload, e.headers), { id: msg.id, status: 'ok' });
    await w.marker(file, 'stolen\n');
    assert.match(
      await w.errorLogLine(`${msg.id}-r0 (REQToFileAppend) from ship1`),
      new RegExp(
        `node: central, error: refused message ${msg.id}-r0 \\(REQToFileAppend\\) from ship1: reply ${msg.id}-r0 from ship1 refused: central never sent ${msg.id}$`,
      ),
    );
    await w.assertStillServing();
    assert.equal(w.central.readData('stolen', 'ship1', 'out.txt'), '', 'the reply was not written at central');
  });
});
