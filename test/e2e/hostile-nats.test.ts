import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { encode as cborEncode } from 'cbor-x';
import { after, before, describe, it } from 'node:test';
import { encodeMessage } from '../../src/message/codec.js';
import { newId } from '../../src/message/id.js';
import type { Message } from '../../src/message/message.js';
import type { Ack } from '../../src/message/ack.js';
import { eventually } from '../support/eventually.js';
import { NatsServer } from '../support/nats-server.js';
import { RogueNode } from '../support/rogue.js';
import { StewardProcess } from '../support/steward.js';

const SUBJECT = 'ship1.REQCliCommand.CommandACK';

/** A well-formed wire message from central to ship1 (a command), with `over` applied. */
function wireMessage(over: Partial<Message> = {}): Message {
  return {
    id: newId(),
    toNode: 'ship1',
    fromNode: 'central',
    method: 'REQCliCommand',
    methodArgs: ['echo', 'hostile'],
    replyMethod: 'REQToFileAppend',
    replyMethodArgs: [],
    isReply: false,
    data: [],
    ackTimeoutMs: 10_000,
    retries: 1,
    replyAckTimeoutMs: 0,
    replyRetries: 0,
    methodTimeoutMs: 10_000,
    replyMethodTimeoutMs: 0,
    directory: 'hostile',
    fileName: 'out.txt',
    relayViaNode: '',
    relayReplyMethod: '',
    createdMs: Date.now(),
    ...over,
  };
}

/**
 * A zstd frame of `blocks` RLE blocks of 128 KiB each: 4 bytes per block on the wire, so a
 * payload of a few hundred KiB claims gigabytes once decompressed.
 */
function zstdBomb(blocks: number): Buffer {
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38])]; // magic; no content size; 128 KiB window
  const size = 128 * 1024;
  for (let i = 0; i < blocks; i++) {
    const h = (size << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0); // Block_Size | RLE | Last_Block
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, 0x41]));
  }
  return Buffer.concat(parts);
}

/**
 * Raw payloads published straight onto a node's subjects by a client of the test broker: the
 * node must stay up, answer each request (a rejected ACK, not silence), tell the central error
 * log, and keep running normal commands.
 */
describe('hostile payloads on the NATS subjects of a node', () => {
  let nats: NatsServer;
  let central: StewardProcess;
  let ship1: StewardProcess;
  let nc: NatsConnection;
  let rogue: RogueNode;
  let work: string;
  let runNo = 0;

  before(async () => {
    nats = await NatsServer.start();
    const common = { central: 'central', brokerUrl: `127.0.0.1:${nats.port}`, flags: ['-startPubREQHello=0'] };
    [central, ship1] = await Promise.all([
      StewardProcess.start({ name: 'central', ...common }),
      StewardProcess.start({ name: 'ship1', ...common }),
    ]);
    // The hostile client holds central's own key and proves what it publishes as central.
    rogue = await RogueNode.connect(nats.url, 'central', RogueNode.identityOf(central.dir));
    nc = rogue.connection;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-hostile-'));
  });

  after(async () => {
    await rogue?.close();
    await Promise.all([central, ship1].map((n) => n?.stop()));
    await nats?.close();
    for (const n of [central, ship1]) n?.cleanup();
    if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
  });

  /** Publishes `payload` as a request and returns the ACK the node answered with. */
  async function ask(payload: Uint8Array, hdrs: Record<string, string> = {}, subject = SUBJECT): Promise<Ack> {
    let reply: string;
    try {
      reply = await rogue.requestRaw(subject, subject.split('.')[0] ?? '', payload, hdrs);
    } catch (err) {
      const node = subject.split('.')[0] === 'central' ? central : ship1;
      throw new Error(
        `no answer on ${subject} (${(err as Error).message}); ${node.opts.name} running: ${node.running}; its stderr ends: ${node.stderr.slice(-1500)}`,
        { cause: err },
      );
    }
    return JSON.parse(reply) as Ack;
  }

  async function assertRejected(payload: Uint8Array, hdrs: Record<string, string>, error: RegExp, subject = SUBJECT): Promise<Ack> {
    const ack = await ask(payload, hdrs, subject);
    assert.equal(ack.status, 'rejected', JSON.stringify(ack).slice(0, 500));
    assert.match(ack.error ?? '', error);
    return ack;
  }

  /** Waits for the line of central's error log that holds `needle`, and returns it. */
  async function errorLogLine(needle: string): Promise<string> {
    return eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes(needle)),
      {
        what: `a line with ${JSON.stringify(needle.slice(0, 100))} in central's error log`,
        timeoutMs: 30_000,
      },
    );
  }

  /** Both nodes run, and a normal command from central still runs on ship1 and comes back. */
  async function assertStillServing(): Promise<void> {
    assert.ok(ship1.running, `ship1 is still running; stderr: ${ship1.stderr.slice(-3000)}`);
    assert.ok(central.running, 'central is still running');
    const tag = `normal-${++runNo}`;
    const lines = await central.send(
      JSON.stringify({ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['echo', tag], directory: 'normal', fileName: `${tag}.txt` }),
    );
    assert.equal(lines[0]?.status, 'accepted', JSON.stringify(lines));
    const out = await eventually(() => central.readData('normal', 'ship1', `${tag}.txt`), {
      what: `the result of ${tag}`,
      timeoutMs: 30_000,
    });
    assert.equal(out, `${tag}\n`);
  }

  it('random bytes are rejected with an answer and an error log line', async () => {
    const malformed =
      /^error: malformed message on ship1\.REQCliCommand\.CommandACK \(\d+ bytes\): (cannot decode cbor payload|payload is not a message object|payload field)/;
    for (const size of [1, 13, 4321, 100_000]) await assertRejected(randomBytes(size), {}, malformed);
    await assertRejected(randomBytes(777), { serial: 'json' }, /malformed message .*\(777 bytes\): cannot decode json payload/);
    assert.match(
      await errorLogLine('(4321 bytes)'),
      /, node: ship1, error: malformed message on ship1\.REQCliCommand\.CommandACK \(4321 bytes\)/,
    );
    await assertStillServing();
  });

  it('valid CBOR that is not a message is rejected naming what is missing', async () => {
    await assertRejected(cborEncode({ hello: 'world' }), {}, /payload field id is not a string/);
    await assertRejected(cborEncode('just a string'), {}, /payload is not a message object/);
    await assertRejected(cborEncode([1, 2, 3]), {}, /payload is not a message object/);
    await assertRejected(cborEncode(null), {}, /payload is not a message object/);
    assert.match(
      await errorLogLine('payload field id is not a string'),
      /node: ship1, error: malformed message on ship1\.REQCliCommand\.CommandACK/,
    );
    await assertStillServing();
  });

  it('a JSON message (serial: json) with fields of the wrong type is rejected naming the field', async () => {
    const json = (over: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ ...wireMessage(), ...over }));
    await assertRejected(json({ retries: 'three' }), { serial: 'json' }, /payload field retries is not a number/);
    await assertRejected(json({ methodArgs: 'ls -l' }), { serial: 'json' }, /payload field methodArgs is not a list of strings/);
    await assertRejected(json({ methodArgs: ['ls', 5] }), { serial: 'json' }, /payload field methodArgs is not a list of strings/);
    await assertRejected(json({ toNode: 42 }), { serial: 'json' }, /payload field toNode is not a string/);
    await assertRejected(json({ isReply: 'no' }), { serial: 'json' }, /payload field isReply is not a boolean/);
    await assertRejected(json({ createdMs: null }), { serial: 'json' }, /payload field createdMs is not a number/);
    // Found by the fuzzer: a time no Date can hold made the error log's receipt fail, unACKed.
    await assertRejected(json({ createdMs: Number.MAX_SAFE_INTEGER }), { serial: 'json' }, /payload field createdMs is not a time/);
    await assertRejected(json({ previousMessage: 'x' }), { serial: 'json' }, /payload field previousMessage is not an object/);
    assert.match(await errorLogLine('payload field retries is not a number'), /node: ship1, error: malformed message/);
    await assertStillServing();
  });

  it('a message for a method the node has no subscriber for is rejected, also when it arrives on another subject', async () => {
    const nope = wireMessage({ method: 'REQNope' });
    await assertRejected(
      (await encodeMessage(nope, { serialization: 'cbor', compression: '' })).payload,
      { serial: 'cbor' },
      /^method REQNope has no subscriber on ship1$/,
    );
    assert.match(
      await errorLogLine(nope.id),
      /node: ship1, error: rejected message \S+ from central: method REQNope has no subscriber on ship1/,
    );
    const misrouted = wireMessage({ method: 'REQToFileAppend', data: ['should not be written\n'], directory: 'misrouted' });
    await assertRejected(
      (await encodeMessage(misrouted, { serialization: 'cbor', compression: '' })).payload,
      {},
      /method REQToFileAppend arrived on subject ship1\.REQCliCommand\.CommandACK/,
    );
    const otherNode = wireMessage({ toNode: 'ship2' });
    await assertRejected(
      (await encodeMessage(otherNode, { serialization: 'json', compression: '' })).payload,
      { serial: 'json' },
      /message is for ship2, not ship1/,
    );
    await errorLogLine(otherNode.id);
    await assertStillServing();
    assert.equal(fs.existsSync(path.join(ship1.dataDir, 'misrouted')), false, 'the misrouted message did not run');
  });

  it('a cmp header on bytes that are not compressed that way is rejected', async () => {
    const valid = (await encodeMessage(wireMessage(), { serialization: 'cbor', compression: '' })).payload;
    await assertRejected(valid, { serial: 'cbor', cmp: 'z' }, /^error: malformed message on .*: cannot decompress payload \(cmp=z\)/);
    await assertRejected(randomBytes(5000), { cmp: 'z' }, /cannot decompress payload \(cmp=z\)/);
    await assertRejected(
      Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(300)]),
      { cmp: 'z' },
      /cannot decompress payload \(cmp=z\)/,
    );
    await assertRejected(randomBytes(5000), { cmp: 'g' }, /cannot decompress payload \(cmp=g\)/);
    assert.match(
      await errorLogLine('cannot decompress payload (cmp=z)'),
      /node: ship1, error: malformed message on ship1\.REQCliCommand\.CommandACK/,
    );
    await assertStillServing();
  });

  it('a zstd or gzip bomb is rejected without taking the node down', async () => {
    // 129 KiB that claim more than 4 GiB, and 16 KiB that claim 512 MiB.
    await assertRejected(zstdBomb(33_000), { cmp: 'z' }, /cannot decompress payload \(cmp=z\)/);
    await assertRejected(zstdBomb(4096), { cmp: 'z' }, /cannot decompress payload \(cmp=z\)/);
    await assertRejected(gzipSync(Buffer.alloc(300 * 1024 * 1024), { level: 9 }), { cmp: 'g' }, /cannot decompress payload \(cmp=g\)/);
    await errorLogLine(`(${zstdBomb(33_000).length} bytes): cannot decompress payload (cmp=z)`);
    await assertStillServing();
  });

  it('compressed messages that are what they say still run (zstd and gzip, CBOR and JSON)', async () => {
    for (const [serialization, compression] of [
      ['cbor', 'z'],
      ['json', 'z'],
      ['cbor', 'g'],
    ] as const) {
      const tag = `compressed-${serialization}-${compression}`;
      const msg = wireMessage({ methodArgs: ['echo', tag], directory: 'compressed', fileName: `${tag}.txt`, data: ['y'.repeat(300_000)] });
      const e = await encodeMessage(msg, { serialization, compression });
      const ack = await ask(e.payload, e.headers);
      assert.deepEqual(ack, { id: msg.id, status: 'ok' });
      assert.equal(await eventually(() => central.readData('compressed', 'ship1', `${tag}.txt`), { what: tag }), `${tag}\n`);
    }
  });

  it('a huge string field, as large as the broker takes, is rejected with an answer and an error log line', async () => {
    const max = nc.info?.max_payload ?? 1024 * 1024;
    // Everything else as small as it can be, so the one field fills the whole payload.
    const lean = { methodArgs: [], replyMethod: '', directory: '', fileName: '' };
    const headerBytes = 64; // what the serial header takes of the broker's limit, with room to spare
    const base = (await encodeMessage(wireMessage({ ...lean, method: '' }), { serialization: 'cbor', compression: '' })).payload.length;
    const huge = wireMessage({ ...lean, method: `REQ${'x'.repeat(max - base - headerBytes)}` });
    const e = await encodeMessage(huge, { serialization: 'cbor', compression: '' });
    assert.ok(e.payload.length <= max - 32 && e.payload.length > max - 128, `${e.payload.length} bytes, the broker takes ${max}`);
    const ack = await assertRejected(e.payload, e.headers, /^method REQxxxx.* has no subscriber on ship1$/);
    assert.equal(ack.id, huge.id);
    assert.match(await errorLogLine(huge.id), /node: ship1, error: rejected message \S+ from central: method REQxxx/);
    await assertStillServing();
  });

  it('a message id that is not one (half a megabyte, other characters) is rejected with an answer (found by the fuzzer)', async () => {
    // The rejection used to quote the id back in its ACK, which the broker then refused: no answer at all.
    for (const id of ['\\'.repeat(512 * 1024), 'é'.repeat(100), '', 'a b']) {
      const e = await encodeMessage(wireMessage({ id, method: 'REQErrorLog', toNode: 'central' }), {
        serialization: 'cbor',
        compression: '',
      });
      const ack = await assertRejected(e.payload, e.headers, /field id is not a message id/, 'central.REQErrorLog.EventACK');
      assert.equal(ack.id, '');
    }
    await assertStillServing();
  });

  it('a node name that would climb out of the data folder is rejected, not written', async () => {
    const escape = `steward-escape-${process.pid}-${Date.now()}`;
    const climb = `../../../${escape}`;
    const outside = path.join(os.tmpdir(), escape);
    try {
      // A reply (REQToFileAppend) whose result path is built from its fromNode.
      const reply = wireMessage({
        method: 'REQToFileAppend',
        isReply: true,
        fromNode: climb,
        data: ['escaped\n'],
        directory: 'x',
        fileName: 'y',
      });
      const e = await encodeMessage(reply, { serialization: 'cbor', compression: '' });
      await assertRejected(e.payload, e.headers, /fromNode/, 'ship1.REQToFileAppend.EventACK');
      // A hello (published, not a request) whose log path is built from its fromNode.
      const hello = wireMessage({
        toNode: 'central',
        method: 'REQHello',
        fromNode: climb,
        replyMethod: 'REQNone',
        directory: '',
        fileName: '',
      });
      const h = await encodeMessage(hello, { serialization: 'cbor', compression: '' });
      nc.publish('central.REQHello.EventNACK', h.payload, {
        headers: toHeaders(rogue.seal('central.REQHello.EventNACK', 'central', h.payload, h.headers)),
      });
      const probe = wireMessage({
        toNode: 'central',
        method: 'REQHello',
        fromNode: `probe-${process.pid}`,
        replyMethod: 'REQNone',
        directory: '',
        fileName: '',
      });
      const p = await encodeMessage(probe, { serialization: 'cbor', compression: '' });
      nc.publish('central.REQHello.EventNACK', p.payload, {
        headers: toHeaders(rogue.seal('central.REQHello.EventNACK', 'central', p.payload, p.headers)),
      });
      await eventually(() => central.readData('hello-messages', probe.fromNode, 'hello.log'), {
        what: 'the probe hello after the hostile one',
      });
      assert.equal(fs.existsSync(outside), false, `${outside} was written`);
      assert.equal(fs.existsSync(path.join(ship1.dir, escape)), false);
      await assertStillServing();
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a reply whose request names a climbing method is written inside the data folder (found by the fuzzer)', async () => {
    const escape = `steward-fuzz-escape-${process.pid}`;
    const outside = path.join(ship1.dir, '..', `${escape}.result`);
    try {
      // No fileName: the result file is named after the request's method, here a climbing one.
      const prev = wireMessage({ method: `../../../${escape}`, toNode: 'ship1' });
      const { data: _data, ...request } = prev;
      const reply = wireMessage({
        method: 'REQToFileAppend',
        isReply: true,
        fromNode: 'central',
        data: ['contained\n'],
        directory: 'fz',
        fileName: '',
        previousMessage: request,
      });
      const e = await encodeMessage(reply, { serialization: 'cbor', compression: '' });
      assert.equal((await ask(e.payload, e.headers, 'ship1.REQToFileAppend.EventACK')).status, 'ok');
      await eventually(() => ship1.readData('fz', 'ship1', `${escape}.result`) === 'contained\n', {
        what: 'the reply written inside the data folder',
      });
      assert.equal(fs.existsSync(outside), false, `${outside} was written`);
    } finally {
      fs.rmSync(outside, { force: true });
    }
  });

  it('fields a sender adds (deep nesting) are dropped: the message is ACKed and runs (found by the fuzzer)', async () => {
    const tag = `extra-${process.pid}`;
    // JSON (serial: json) with an extra field nested 8000 levels deep: JSON.parse takes it.
    const msg = JSON.stringify(wireMessage({ methodArgs: ['echo', tag], directory: 'extra', fileName: `${tag}.txt` }));
    const payload = Buffer.from(`${msg.slice(0, -1)},"nested":${'['.repeat(8000)}0${']'.repeat(8000)}}`);
    const e = { headers: { serial: 'json' } };
    const ack = await ask(payload, e.headers);
    assert.equal(ack.status, 'ok', JSON.stringify(ack));
    assert.equal(await eventually(() => central.readData('extra', 'ship1', `${tag}.txt`), { what: 'its reply' }), `${tag}\n`);
  });

  it('the same message published twice runs once, and the second answer says duplicate', async () => {
    const countFile = path.join(work, 'runs.txt');
    const cmd = (label: string): Message =>
      wireMessage({
        methodArgs: ['bash', '-c', `echo ${label} >> "$0"; echo ran-${label}`, countFile],
        directory: 'dup',
        fileName: `${label}.txt`,
      });
    // One after the other.
    const seq = cmd('sequential');
    const s = await encodeMessage(seq, { serialization: 'cbor', compression: '' });
    assert.deepEqual(await ask(s.payload, s.headers), { id: seq.id, status: 'ok' });
    assert.deepEqual(await ask(s.payload, s.headers), { id: seq.id, status: 'duplicate' });
    // Both at once.
    const par = cmd('parallel');
    const p = await encodeMessage(par, { serialization: 'json', compression: 'g' });
    const acks = await Promise.all([ask(p.payload, p.headers), ask(p.payload, p.headers)]);
    assert.deepEqual(acks.map((a) => a.status).sort(), ['duplicate', 'ok']);
    assert.ok(acks.every((a) => a.id === par.id));
    // Re-sent again later, after it ran.
    await eventually(() => central.readData('dup', 'ship1', 'parallel.txt'), { what: 'the reply to the parallel message' });
    assert.deepEqual(await ask(p.payload, p.headers), { id: par.id, status: 'duplicate' });
    // A different message after them all: once it has run, anything a duplicate started has too.
    const marker = cmd('marker');
    const m = await encodeMessage(marker, { serialization: 'cbor', compression: '' });
    assert.equal((await ask(m.payload, m.headers)).status, 'ok');
    await eventually(() => central.readData('dup', 'ship1', 'marker.txt'), { what: 'the marker reply' });
    const runs = fs
      .readFileSync(countFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    assert.deepEqual([...runs].sort(), ['marker', 'parallel', 'sequential']);
    assert.equal(await eventually(() => central.readData('dup', 'ship1', 'sequential.txt')), 'ran-sequential\n');
    assert.equal(central.readData('dup', 'ship1', 'parallel.txt'), 'ran-parallel\n');
    await assertStillServing();
  });
});

function toHeaders(h: Record<string, string>): ReturnType<typeof natsHeaders> {
  const out = natsHeaders();
  for (const [k, v] of Object.entries(h)) out.set(k, v);
  return out;
}
