import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeMessage } from '../../src/message/codec.js';
import { newMessage, type Message } from '../../src/message/message.js';
import { relayInitial, relayOnward, relayToVia } from '../../src/message/relay.js';
import { pairFromSeed } from '../../src/trust/nkey.js';
import { originRequestOf, signOrigin } from '../../src/trust/origin.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { proverFor, RogueNode, withProof } from '../support/rogue.js';
import type { StewardProcess } from '../support/steward.js';

/**
 * The attacker that matters: a client holding ship1's own key, proving its messages as ship1
 * correctly (test/support/rogue.ts), against central, ship1 and ship2 with the default trust
 * settings and policy. Each attack is refused, reported at central, and changes nothing.
 */
describe('trust: a stolen node key cannot command the fleet', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;
  let rogue: RogueNode;
  let work: string;
  let n = 0;

  before(async () => {
    fleet = await startFleet(['central', 'ship1', 'ship2'], {
      flags: ['-startPubREQHello=1'],
      flagsFor: { ship2: ['-startSubREQCliCommandCont=false'] },
    });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess, StewardProcess];
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-trust-'));
    // Every node has said hello: central knows their keys; the ships learn central's from its messages.
    await eventually(() => ['ship1', 'ship2'].every((s) => fs.existsSync(path.join(central.dataDir, 'hello-messages', s, 'hello.log'))), {
      what: 'hellos from both ships',
    });
    rogue = await RogueNode.connect(fleet.nats.url, 'ship1', RogueNode.identityOf(ship1.dir));
  });

  after(async () => {
    await rogue?.close();
    await fleet?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const marker = (what: string): string => path.join(work, `${what}-${++n}`);
  /** A message as ship1 would make it, with `over` applied. */
  const asShip1 = (over: Partial<Message>): Message =>
    newMessage({ toNode: 'central', fromNode: 'ship1', method: 'REQToFileAppend', ackTimeoutMs: 5000, retries: 0, ...over });
  const errorLine = (needle: string): Promise<string> =>
    eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes(needle)),
      { what: `an error line with ${needle}`, timeoutMs: 20_000 },
    );
  const auditLine = (node: StewardProcess, needle: string): Promise<string> =>
    eventually(
      () =>
        fs
          .readFileSync(path.join(node.dir, 'var', 'lib', 'audit.log'), 'utf8')
          .split('\n')
          .find((l) => l.includes(needle)),
      { what: `an audit line with ${needle}`, timeoutMs: 20_000 },
    );

  // First in the suite: ship2 has not heard from central yet, so it has no key pinned for central.
  it("runs no command on ship2 relayed in central's name with a key ship1 made up", async () => {
    const ran = marker('relayed-as-central');
    const asked = newMessage({
      toNode: 'ship2',
      fromNode: 'central',
      method: 'REQCliCommand',
      methodArgs: ['bash', '-c', `touch ${ran}`],
      relayViaNode: 'ship1',
      ackTimeoutMs: 5000,
      retries: 0,
    });
    const initial = relayInitial(asked, 'central');
    assert.ok(initial !== undefined);
    const madeUp = proverFor('central', pairFromSeed(randomBytes(32)));
    const signed = { ...initial, origin: signOrigin(madeUp, originRequestOf(initial, 'ship2', 'REQCliCommand')) };
    const forged = relayOnward(relayToVia(signed, 'central'), 'ship1');
    const ack = JSON.parse(await rogue.request('ship2.REQCliCommand.CommandACK', forged)) as { status: string; error?: string };
    assert.equal(ack.status, 'rejected');
    assert.match(ack.error ?? '', /relayed message refused: its origin central is not known here/);
    assert.equal(fs.existsSync(ran), false, 'the command ran');
  });

  it('runs no command on ship2 or central through a forged relayed reply, on the reply, hello and error-log subjects', async () => {
    for (const [subject, method, target] of [
      ['central.REQToFileAppend.EventACK', 'REQToFileAppend', 'ship2'],
      ['central.REQErrorLog.EventACK', 'REQErrorLog', 'central'],
      ['central.REQToFile.EventACK', 'REQToFile', 'ship2'],
    ] as const) {
      const file = marker('relayed-reply');
      const prev = newMessage({ toNode: 'ship1', fromNode: 'central', method: 'REQCliCommand', ackTimeoutMs: 5000, retries: 0 });
      const forged = asShip1({
        id: `${prev.id}-r0`,
        method,
        isReply: true,
        methodArgs: ['sh', '-c', `echo pwned > ${file}`],
        data: ['output'],
        previousMessage: { ...prev, relayOriginalViaNode: 'central', relayFromNode: target, relayReplyMethod: 'REQCliCommand' },
      });
      const ack = JSON.parse(await rogue.request(subject, forged)) as { status: string; error?: string };
      assert.equal(ack.status, 'rejected', JSON.stringify(ack));
      assert.match(ack.error ?? '', /never sent|arrived on subject/);
      await auditLine(central, forged.id);
      assert.equal(fs.existsSync(file), false, `${file} was written: a command ran`);
    }
    // The hello subject takes no request: the forged reply published there is refused too.
    const file = marker('hello');
    const prev = newMessage({ toNode: 'ship1', fromNode: 'central', method: 'REQCliCommand', ackTimeoutMs: 5000, retries: 0 });
    const onHello = asShip1({
      id: `${prev.id}-r0`,
      isReply: true,
      methodArgs: ['sh', '-c', `echo pwned > ${file}`],
      previousMessage: { ...prev, relayOriginalViaNode: 'central', relayFromNode: 'ship2', relayReplyMethod: 'REQCliCommand' },
    });
    await rogue.publish('central.REQHello.EventNACK', onHello);
    await auditLine(central, onHello.id);
    assert.equal(fs.existsSync(file), false);
  });

  it('cannot start a method switched off on a node, neither as ship1 nor by the default rules for central', async () => {
    const start = newMessage({
      toNode: 'ship2',
      fromNode: 'ship1',
      method: 'REQOpProcessStart',
      methodArgs: ['REQCliCommandCont'],
      ackTimeoutMs: 5000,
      retries: 0,
    });
    const ack = JSON.parse(await rogue.request('ship2.REQOpProcessStart.CommandACK', start)) as { status: string; error?: string };
    assert.equal(ack.status, 'rejected');
    assert.match(ack.error ?? '', /denied by the policy of ship2: ship1 may not REQOpProcessStart \(rule: default deny/);
    const lines = await central.send(
      JSON.stringify({ toNode: 'ship2', method: 'REQOpProcessStart', methodArgs: ['REQCliCommandCont'], replyMethod: 'REQNone' }),
    );
    assert.equal(lines[0]?.status, 'accepted');
    await errorLine(`may not REQOpProcessStart`);
    const [list] = await central.send(
      JSON.stringify({ toNode: 'ship2', method: 'REQOpProcessList', directory: 'ops', fileName: 'list.txt', replyMethod: 'REQToFile' }),
    );
    assert.equal(list?.status, 'accepted');
    const processes = await eventually(() => central.readData('ops', 'ship2', 'list.txt'), { what: "ship2's process list" });
    assert.match(processes, /ship2\.REQCliCommand\.CommandACK/);
    assert.doesNotMatch(processes, /REQCliCommandCont/, 'the switched-off method has no subscriber');
  });

  it("overwrites no result of another node, and logs no error in another node's name", async () => {
    await central.send(
      JSON.stringify({
        toNode: 'ship2',
        method: 'REQCliCommand',
        methodArgs: ['echo', 'real'],
        directory: 'res',
        fileName: 'r.txt',
        replyMethod: 'REQToFile',
      }),
    );
    await eventually(() => central.readData('res', 'ship2', 'r.txt') === 'real\n', { what: "ship2's real result" });
    const prev = newMessage({
      toNode: 'ship2',
      fromNode: 'central',
      method: 'REQCliCommand',
      ackTimeoutMs: 5000,
      retries: 0,
      directory: 'res',
      fileName: 'r.txt',
    });
    const inShip2sName = asShip1({
      fromNode: 'ship2',
      method: 'REQToFile',
      isReply: true,
      data: ['forged\n'],
      id: `${prev.id}-r0`,
      previousMessage: prev,
    });
    const a1 = JSON.parse(await rogue.request('central.REQToFile.EventACK', inShip2sName)) as { error?: string };
    assert.match(a1.error ?? '', /it says it is from ship2, but its proof is by ship1/);
    const asItsReply = asShip1({ method: 'REQToFile', isReply: true, data: ['forged\n'], id: `${prev.id}-r0`, previousMessage: prev });
    const a2 = JSON.parse(await rogue.request('central.REQToFile.EventACK', asItsReply)) as { error?: string };
    assert.match(a2.error ?? '', /never sent/);
    const err = asShip1({
      fromNode: 'ship2',
      method: 'REQErrorLog',
      data: ['error: forged by ship1'],
      directory: 'errorLog',
      fileName: 'error.log',
    });
    const a3 = JSON.parse(await rogue.request('central.REQErrorLog.EventACK', err)) as { error?: string };
    assert.match(a3.error ?? '', /it says it is from ship2/);
    const own = asShip1({ method: 'REQErrorLog', data: [`error: said by ship1 itself ${n}`] });
    assert.equal((JSON.parse(await rogue.request('central.REQErrorLog.EventACK', own)) as { status: string }).status, 'ok');
    const line = await errorLine(`said by ship1 itself ${n}`);
    assert.match(line, /node: ship1, error: said by ship1/, 'an error line speaks only of its signer');
    assert.equal(central.readData('res', 'ship2', 'r.txt'), 'real\n');
    assert.ok(!central.readErrorLog().includes('forged by ship1'));
  });

  it('writes nothing into errorLog/ or the hello folders, even for central', async () => {
    const lines = await central.send(
      JSON.stringify({
        toNode: 'ship1',
        method: 'REQToFile',
        data: ['x'],
        directory: 'errorLog',
        fileName: 'error.log',
        replyMethod: 'REQNone',
      }),
    );
    assert.equal(lines[0]?.status, 'accepted');
    await errorLine('REQToFile may not write into errorLog/');
    const hello = asShip1({ method: 'REQHello', directory: '../../etc', fileName: 'config.toml', data: ['hello'] });
    await rogue.publish('central.REQHello.EventNACK', hello);
    await eventually(() => central.readData('hello-messages', 'ship1', 'hello.log').split('\n').length > 3, { what: 'more hellos' });
    assert.ok(!fs.readFileSync(path.join(central.dir, 'etc', 'config.toml'), 'utf8').includes('Received hello'));
    assert.equal(fs.existsSync(path.join(ship1.dataDir, 'errorLog', 'ship1', 'error.log')), false);
  });

  it('refuses and reports a bad proof, a proof over other bytes, a proof for another subject, and another key for a pinned name', async () => {
    const msg = asShip1({ method: 'REQErrorLog', data: ['error: proof test'] });
    const e = await encodeMessage(msg, { serialization: 'cbor', compression: '' });
    const subject = 'central.REQErrorLog.EventACK';
    const good = rogue.seal(subject, 'central', e.payload, e.headers);
    const ackOf = async (payload: Uint8Array, headers: Record<string, string>): Promise<string> =>
      (JSON.parse(await rogue.requestRaw(subject, 'central', payload, headers, false)) as { error?: string }).error ?? '';
    assert.match(
      await ackOf(e.payload, withProof(good, { proof: `m2.${randomBytes(16).toString('base64url')}` })),
      /the proof does not match/,
    );
    const other = await encodeMessage({ ...msg, data: ['error: other bytes'] }, { serialization: 'cbor', compression: '' });
    assert.match(await ackOf(other.payload, good), /the proof does not match/);
    const forOther = rogue.seal('central.REQToFileAppend.EventACK', 'central', e.payload, e.headers);
    assert.match(await ackOf(e.payload, forOther), /the proof does not match/);
    assert.match(await ackOf(e.payload, e.headers), /unauthenticated/);
    // A fresh key that says it is ship1: refused, and central's error log says so.
    const dir = fs.mkdtempSync(path.join(work, 'k-'));
    fs.writeFileSync(path.join(dir, 'x.nk'), pairFromSeed(randomBytes(32)).seedText);
    const impostor = await RogueNode.connect(fleet.nats.url, 'ship1', path.join(dir, 'x.nk'));
    try {
      const a = JSON.parse(await impostor.request(subject, asShip1({ method: 'REQErrorLog', data: ['error: impostor'] }))) as {
        error?: string;
      };
      assert.match(a.error ?? '', /does not match the one bound to ship1/);
      await errorLine('a message claims to be from ship1 with key SHA256:');
    } finally {
      await impostor.close();
    }
  });

  it('refuses a replay of a message as a duplicate, and one older than the ledger remembers', async () => {
    const centralRogue = await RogueNode.connect(fleet.nats.url, 'central', RogueNode.identityOf(central.dir));
    try {
      const file = marker('replay');
      const cmd = newMessage({
        toNode: 'ship1',
        fromNode: 'central',
        method: 'REQCliCommand',
        methodArgs: ['sh', '-c', `echo ran >> ${file}`],
        replyMethod: 'REQNone',
        ackTimeoutMs: 5000,
        retries: 0,
        methodTimeoutMs: 5000,
      });
      const e = await encodeMessage(cmd, { serialization: 'cbor', compression: '' });
      const headers = centralRogue.seal('ship1.REQCliCommand.CommandACK', 'ship1', e.payload, e.headers);
      const first = JSON.parse(await centralRogue.requestRaw('ship1.REQCliCommand.CommandACK', 'ship1', e.payload, headers, false)) as {
        status: string;
      };
      const again = JSON.parse(await centralRogue.requestRaw('ship1.REQCliCommand.CommandACK', 'ship1', e.payload, headers, false)) as {
        status: string;
      };
      assert.deepEqual([first.status, again.status], ['ok', 'duplicate']);
      await eventually(() => fs.existsSync(file), { what: 'the command to run once' });
      const old = newMessage({ ...cmd, createdMs: Date.now() - 31 * 24 * 3600 * 1000 });
      const a = JSON.parse(await centralRogue.request('ship1.REQCliCommand.CommandACK', old)) as { error?: string };
      assert.match(a.error ?? '', /older than the 30 days this node remembers/);
      assert.equal(fs.readFileSync(file, 'utf8'), 'ran\n');
    } finally {
      await centralRogue.close();
    }
  });
});
