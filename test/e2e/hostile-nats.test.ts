import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { encode as cborEncode } from 'cbor-x';
import { after, before, describe, it } from 'node:test';
import { encodeMessage } from '../../src/message/codec.js';
import type { Message } from '../../src/message/message.js';
import { eventually } from '../support/eventually.js';
import { HostileWorld, wireMessage, zstdBomb } from '../support/hostile.js';

/**
 * Hostile payloads on a node's NATS subjects, proven correctly by a client that holds central's
 * own key (a stolen key: the proofs let it through, so what comes after them is tested): the node
 * must stay up, answer each request (a rejected ACK, not silence), tell the central error log,
 * and keep running normal commands. What is refused before the payload is read (no proof, a bad
 * one, a key that is not the name's) is in hostile-trust.test.ts.
 */
describe('hostile payloads, proven by a stolen key, on the NATS subjects of a node', () => {
  let w: HostileWorld;

  before(async () => {
    w = await HostileWorld.start();
  });

  after(async () => {
    await w?.stop();
  });

  it('random bytes are rejected with an answer and an error log line', async () => {
    const malformed =
      /^error: malformed message on ship1\.REQCliCommand\.CommandACK \(\d+ bytes\): (cannot decode cbor payload|payload is not a message object|payload field)/;
    for (const size of [1, 13, 4321, 100_000]) await w.assertRejected(randomBytes(size), {}, malformed);
    await w.assertRejected(randomBytes(777), { serial: 'json' }, /malformed message .*\(777 bytes\): cannot decode json payload/);
    assert.match(
      await w.errorLogLine('(4321 bytes)'),
      /, node: ship1, error: malformed message on ship1\.REQCliCommand\.CommandACK \(4321 bytes\)/,
    );
    await w.assertStillServing();
  });

  it('valid CBOR that is not a message is rejected naming what is missing', async () => {
    await w.assertRejected(cborEncode({ hello: 'world' }), {}, /payload field id is not a string/);
    await w.assertRejected(cborEncode('just a string'), {}, /payload is not a message object/);
    await w.assertRejected(cborEncode([1, 2, 3]), {}, /payload is not a message object/);
    await w.assertRejected(cborEncode(null), {}, /payload is not a message object/);
    assert.match(
      await w.errorLogLine('payload field id is not a string'),
      /node: ship1, error: malformed message on ship1\.REQCliCommand\.CommandACK/,
    );
    await w.assertStillServing();
  });

  it('a JSON message (serial: json) with fields of the wrong type is rejected naming the field', async () => {
    const json = (over: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ ...wireMessage(), ...over }));
    await w.assertRejected(json({ retries: 'three' }), { serial: 'json' }, /payload field retries is not a number/);
    await w.assertRejected(json({ methodArgs: 'ls -l' }), { serial: 'json' }, /payload field methodArgs is not a list of strings/);
    await w.assertRejected(json({ methodArgs: ['ls', 5] }), { serial: 'json' }, /payload field methodArgs is not a list of strings/);
    await w.assertRejected(json({ toNode: 42 }), { serial: 'json' }, /payload field toNode is not a string/);
    await w.assertRejected(json({ isReply: 'no' }), { serial: 'json' }, /payload field isReply is not a boolean/);
    await w.assertRejected(json({ createdMs: null }), { serial: 'json' }, /payload field createdMs is not a number/);
    // Found by the fuzzer: a time no Date can hold made the error log's receipt fail, unACKed.
    await w.assertRejected(json({ createdMs: Number.MAX_SAFE_INTEGER }), { serial: 'json' }, /payload field createdMs is not a time/);
    await w.assertRejected(json({ previousMessage: 'x' }), { serial: 'json' }, /payload field previousMessage is not an object/);
    assert.match(await w.errorLogLine('payload field retries is not a number'), /node: ship1, error: malformed message/);
    await w.assertStillServing();
  });

  it('a message for a method the node has no subscriber for is rejected, also when it arrives on another subject', async () => {
    const nope = wireMessage({ method: 'REQNope' });
    await w.assertRejected(
      (await encodeMessage(nope, { serialization: 'cbor', compression: '' })).payload,
      { serial: 'cbor' },
      /^method REQNope has no subscriber on ship1$/,
    );
    assert.match(
      await w.errorLogLine(nope.id),
      /node: ship1, error: rejected message \S+ from central: method REQNope has no subscriber on ship1/,
    );
    const misrouted = wireMessage({ method: 'REQToFileAppend', data: ['should not be written\n'], directory: 'misrouted' });
    await w.assertRejected(
      (await encodeMessage(misrouted, { serialization: 'cbor', compression: '' })).payload,
      {},
      /method REQToFileAppend arrived on subject ship1\.REQCliCommand\.CommandACK/,
    );
    const otherNode = wireMessage({ toNode: 'ship2' });
    await w.assertRejected(
      (await encodeMessage(otherNode, { serialization: 'json', compression: '' })).payload,
      { serial: 'json' },
      /message is for ship2, not ship1/,
    );
    await w.errorLogLine(otherNode.id);
    await w.assertStillServing();
    assert.equal(fs.existsSync(path.join(w.ship1.dataDir, 'misrouted')), false, 'the misrouted message did not run');
  });

  it('a cmp header on bytes that are not compressed that way is rejected', async () => {
    const valid = (await encodeMessage(wireMessage(), { serialization: 'cbor', compression: '' })).payload;
    await w.assertRejected(valid, { serial: 'cbor', cmp: 'z' }, /^error: malformed message on .*: cannot decompress payload \(cmp=z\)/);
    await w.assertRejected(randomBytes(5000), { cmp: 'z' }, /cannot decompress payload \(cmp=z\)/);
    await w.assertRejected(
      Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(300)]),
      { cmp: 'z' },
      /cannot decompress payload \(cmp=z\)/,
    );
    await w.assertRejected(randomBytes(5000), { cmp: 'g' }, /cannot decompress payload \(cmp=g\)/);
    assert.match(
      await w.errorLogLine('cannot decompress payload (cmp=z)'),
      /node: ship1, error: malformed message on ship1\.REQCliCommand\.CommandACK/,
    );
    await w.assertStillServing();
  });

  it('a zstd or gzip bomb is rejected without taking the node down', async () => {
    // 129 KiB that claim more than 4 GiB, and 16 KiB that claim 512 MiB.
    await w.assertRejected(zstdBomb(33_000), { cmp: 'z' }, /cannot decompress payload \(cmp=z\)/);
    await w.assertRejected(zstdBomb(4096), { cmp: 'z' }, /cannot decompress payload \(cmp=z\)/);
    await w.assertRejected(gzipSync(Buffer.alloc(300 * 1024 * 1024), { level: 9 }), { cmp: 'g' }, /cannot decompress payload \(cmp=g\)/);
    await w.errorLogLine(`(${zstdBomb(33_000).length} bytes): cannot decompress payload (cmp=z)`);
    await w.assertStillServing();
  });

  it('compressed messages that are what they say still run (zstd and gzip, CBOR and JSON)', async () => {
    for (const [serialization, compression] of [
      ['cbor', 'z'],
      ['json', 'z'],
      ['cbor', 'g'],
    ] as const) {
      const tag = `compressed-${serialization}-${compression}`;
      const { msg, file } = w.markerCommand(tag, { data: ['y'.repeat(300_000)] });
      const e = await encodeMessage(msg, { serialization, compression });
      const ack = await w.ask(e.payload, e.headers);
      assert.deepEqual(ack, { id: msg.id, status: 'ok' });
      await w.marker(file, `${tag}\n`);
    }
  });

  it('a huge string field, as large as the broker takes, is rejected with an answer and an error log line', async () => {
    const max = w.rogue.connection.info?.max_payload ?? 1024 * 1024;
    // Everything else as small as it can be, so the one field fills what the broker takes.
    const lean = { methodArgs: [], replyMethod: '', directory: '', fileName: '' };
    const base = (await encodeMessage(wireMessage({ ...lean, method: '' }), { serialization: 'cbor', compression: '' })).payload.length;
    // What the headers (serial and the proof) take of the broker's limit: the proof's size does not depend on the bytes.
    const hdrs = w.rogue.seal('ship1.REQCliCommand.CommandACK', 'ship1', Buffer.alloc(1), { serial: 'cbor' });
    const headerBytes = 'NATS/1.0\r\n\r\n'.length + Object.entries(hdrs).reduce((n, [k, v]) => n + `${k}: ${v}\r\n`.length, 0);
    const huge = wireMessage({ ...lean, method: `REQ${'x'.repeat(max - base - headerBytes - 32)}` });
    const e = await encodeMessage(huge, { serialization: 'cbor', compression: '' });
    const room = max - headerBytes;
    assert.ok(
      e.payload.length <= room - 16 && e.payload.length > room - 128,
      `${e.payload.length} bytes, the broker takes ${room} with the headers`,
    );
    const ack = await w.assertRejected(e.payload, e.headers, /^method REQxxxx.* has no subscriber on ship1$/);
    assert.equal(ack.id, huge.id);
    assert.match(await w.errorLogLine(huge.id), /node: ship1, error: rejected message \S+ from central: method REQxxx/);
    await w.assertStillServing();
  });

  it('a message id that is not one (half a megabyte, other characters) is rejected with an answer (found by the fuzzer)', async () => {
    // The rejection used to quote the id back in its ACK, which the broker then refused: no answer at all.
    for (const id of ['\\'.repeat(512 * 1024), 'é'.repeat(100), '', 'a b']) {
      const e = await encodeMessage(wireMessage({ id, method: 'REQErrorLog', toNode: 'central' }), {
        serialization: 'cbor',
        compression: '',
      });
      const ack = await w.assertRejected(e.payload, e.headers, /field id is not a message id/, {
        subject: 'central.REQErrorLog.EventACK',
      });
      assert.equal(ack.id, '');
    }
    await w.assertStillServing();
  });

  it('fields a sender adds (deep nesting) are dropped: the message is ACKed and runs (found by the fuzzer)', async () => {
    const tag = `extra-${process.pid}`;
    // JSON (serial: json) with an extra field nested 8000 levels deep: JSON.parse takes it.
    const { msg: m, file } = w.markerCommand(tag);
    const msg = JSON.stringify(m);
    const payload = Buffer.from(`${msg.slice(0, -1)},"nested":${'['.repeat(8000)}0${']'.repeat(8000)}}`);
    const e = { headers: { serial: 'json' } };
    const ack = await w.ask(payload, e.headers);
    assert.equal(ack.status, 'ok', JSON.stringify(ack));
    await w.marker(file, `${tag}\n`);
  });

  it('the same message published twice runs once, and the second answer says duplicate', async () => {
    const countFile = path.join(w.work, 'runs.txt');
    const runs = (): string[] =>
      fs.existsSync(countFile)
        ? fs
            .readFileSync(countFile, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
        : [];
    // No reply: central never sent these, so it would refuse one.
    const cmd = (label: string): Message =>
      wireMessage({ methodArgs: ['bash', '-c', `echo ${label} >> "$0"`, countFile], replyMethod: 'REQNone' });
    // One after the other.
    const seq = cmd('sequential');
    const s = await encodeMessage(seq, { serialization: 'cbor', compression: '' });
    assert.deepEqual(await w.ask(s.payload, s.headers), { id: seq.id, status: 'ok' });
    assert.deepEqual(await w.ask(s.payload, s.headers), { id: seq.id, status: 'duplicate' });
    // Both at once.
    const par = cmd('parallel');
    const p = await encodeMessage(par, { serialization: 'json', compression: 'g' });
    const acks = await Promise.all([w.ask(p.payload, p.headers), w.ask(p.payload, p.headers)]);
    assert.deepEqual(acks.map((a) => a.status).sort(), ['duplicate', 'ok']);
    assert.ok(acks.every((a) => a.id === par.id));
    // Re-sent again later, after it ran.
    await eventually(() => runs().includes('parallel'), { what: 'the parallel message to run', timeoutMs: 30_000 });
    assert.deepEqual(await w.ask(p.payload, p.headers), { id: par.id, status: 'duplicate' });
    // A different message after them all: once it has run, anything a duplicate started has too.
    const marker = cmd('marker');
    const m = await encodeMessage(marker, { serialization: 'cbor', compression: '' });
    assert.equal((await w.ask(m.payload, m.headers)).status, 'ok');
    await eventually(() => runs().includes('marker'), { what: 'the marker message to run', timeoutMs: 30_000 });
    assert.deepEqual(runs().sort(), ['marker', 'parallel', 'sequential']);
    await w.assertStillServing();
  });
});
