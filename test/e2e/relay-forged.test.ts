import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeMessage } from '../../src/message/codec.js';
import { newId, partId } from '../../src/message/id.js';
import type { Message } from '../../src/message/message.js';
import { originRequestOf, signOrigin } from '../../src/trust/origin.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { RELAY_RULE, RELAYED_RULE } from '../support/relay-policy.js';
import { proverFor, readSeed, RogueNode } from '../support/rogue.js';
import type { StewardProcess } from '../support/steward.js';

/**
 * REQRelay messages forged by a client holding node1's own key: it proves them as node1, so what
 * stops them is the relay node's checks after the proof (the subject names the payload's target,
 * the origin's signed request, central's policy), and nothing it may not ask for runs.
 */
describe('REQRelay forged with a stolen node key', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let node1: StewardProcess;
  let node2: StewardProcess;
  let ship3: StewardProcess;
  let rogue: RogueNode;
  const node1Seed = (): string => RogueNode.identityOf(node1.dir);
  /** node1's proofs, for the origin requests it signs. */
  const origin = (): ReturnType<typeof proverFor> => proverFor('node1', readSeed(node1Seed()));

  before(async () => {
    fleet = await startFleet(['central', 'node1', 'node2', 'ship3'], {
      flags: ['-startPubREQHello=0'],
      flagsFor: { central: ['-startSubREQRelay=true'] },
      policyFor: { central: RELAY_RULE, node2: RELAYED_RULE },
    });
    [central, node1, node2, ship3] = fleet.nodes as [StewardProcess, StewardProcess, StewardProcess, StewardProcess];
    rogue = await RogueNode.connect(fleet.nats.url, 'node1', node1Seed());
  });

  after(async () => {
    await rogue?.close();
    await fleet?.close();
  });

  const countFile = (tag: string): string => path.join(node1.dir, `${tag}.count`);
  const runs = (tag: string): number =>
    fs.existsSync(countFile(tag)) ? fs.readFileSync(countFile(tag), 'utf8').split('\n').filter(Boolean).length : 0;

  /** What node1 sends central to have `method` run on `target` (see src/message/relay.ts), with `over` applied. */
  function relay(tag: string, target: string, over: Partial<Message> = {}): Message {
    return {
      id: partId(newId(), 'relay'),
      toNode: 'central',
      fromNode: 'node1',
      method: 'REQRelay',
      methodArgs: ['bash', '-c', `echo ran >> "$0"; echo relayed ${tag}`, countFile(tag)],
      replyMethod: 'REQToFileAppend',
      replyMethodArgs: [],
      isReply: false,
      data: [],
      ackTimeoutMs: 5000,
      retries: 0,
      replyAckTimeoutMs: 0,
      replyRetries: 0,
      methodTimeoutMs: 5000,
      replyMethodTimeoutMs: 0,
      directory: 'forged',
      fileName: `${tag}.log`,
      relayViaNode: '',
      relayReplyMethod: 'REQToFileAppend',
      createdMs: Date.now(),
      relayFromNode: 'node1',
      relayToNode: target,
      relayOriginalViaNode: 'central',
      relayOriginalMethod: 'REQCliCommand',
      ...over,
    };
  }

  /** `msg` with node1's signed origin request for `to` and `method` (the request as it asks it). */
  function signed(msg: Message, to = msg.relayToNode ?? '', method = msg.relayOriginalMethod ?? ''): Message {
    const request = originRequestOf({ ...msg, id: msg.id.replace(/-relay$/, '') }, to, method);
    return { ...msg, origin: signOrigin(origin(), request) };
  }

  /** Sends `msg` proven as node1 on `subject` (its own relay subject by default) and returns the ACK. */
  async function send(
    msg: Message,
    subject = `${msg.relayToNode ?? ''}.central.REQRelay.EventACK`,
  ): Promise<{ status: string; error?: string }> {
    const e = await encodeMessage(msg, { serialization: 'cbor', compression: '' });
    return JSON.parse(await rogue.requestRaw(subject, 'central', e.payload, e.headers)) as { status: string; error?: string };
  }

  const errorLine = (needle: string, re: RegExp): Promise<string> =>
    eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes(needle) && re.test(l)),
      { what: `the error line ${String(re)}`, timeoutMs: 30_000 },
    );

  it('refuses a REQRelay whose subject names another target than its payload, one with no origin proof, and one the policy denies', async () => {
    // Allowed to relay to node2, the sender tries to reach ship3 on node2's relay subject.
    const misrouted = signed(relay('misrouted', 'ship3'));
    const a = await send(misrouted, 'node2.central.REQRelay.EventACK');
    assert.equal(a.status, 'rejected');
    assert.match(a.error ?? '', /^method REQRelay arrived on subject node2\.central\.REQRelay\.EventACK$/);
    // Well addressed, but no origin proof: the relay node cannot tell who asks for it.
    const unsigned = relay('unsigned', 'node2');
    const b = await send(unsigned);
    assert.equal(b.status, 'rejected');
    assert.equal(b.error, 'relay refused: it carries no proof of its origin');
    // An origin proof for another target than the message names.
    const swapped = { ...signed(relay('swapped', 'node2')), relayToNode: 'ship3' };
    assert.equal((await send(swapped)).error, 'relay refused: its origin proof is for another request');
    // A correct origin proof, to a target no rule lets node1 relay to.
    const denied = signed(relay('denied', 'ship3'));
    const c = await send(denied);
    assert.equal(c.status, 'rejected');
    assert.equal(
      c.error,
      'denied by the policy of central: node1 may not relay REQCliCommand to ship3 (rule: default: no relaying without a rule)',
    );
    await errorLine(denied.id, /node: central, error: refused message \S+ \(REQRelay\) from node1: denied by the policy of central/);
    await errorLine(unsigned.id, /relay refused: it carries no proof of its origin/);
    // What node1 may ask for still goes through: the same client relays to node2.
    const allowed = signed(relay('allowed', 'node2'));
    assert.equal((await send(allowed)).status, 'ok');
    await eventually(() => runs('allowed') === 1, { what: 'the allowed relay to run on node2', timeoutMs: 30_000 });
    // Its reply is handled on central, but the real node1 refuses the copy: it never sent that relay.
    await eventually(() => central.readData('forged', 'node2', 'allowed.log') === 'relayed allowed\n', { what: 'the reply on central' });
    await errorLine(
      `${allowed.id}-fwd-r0-back`,
      /node: node1, error: refused message \S+ \(REQToFileAppend\) from central: .*node1 never had central relay that message$/,
    );
    for (const tag of ['misrouted', 'unsigned', 'swapped', 'denied']) assert.equal(runs(tag), 0, `${tag} did not run`);
    assert.equal(central.readData('forged', 'ship3', 'denied.log'), '');
    assert.equal(fs.existsSync(path.join(ship3.dataDir, 'forged')), false, 'nothing of it reached ship3');
    assert.ok(node2.running && ship3.running);
  });

  it('reports relays no node may ask for, well addressed and allowed by the policy: an error line each, nothing runs', async () => {
    const bad: [Partial<Message>, RegExp][] = [
      [{ relayOriginalMethod: 'REQNope' }, /error: REQRelay: cannot relay method "REQNope" from node1 to node2/],
      [{ relayOriginalMethod: 'REQRelay' }, /error: REQRelay: cannot relay method "REQRelay"/],
      [{ relayFromNode: 'node2' }, /error: REQRelay: relayFromNode "node2" is not the sending node node1/],
    ];
    for (const [over, expected] of bad) {
      const m = signed(relay('bad', 'node2', over));
      const ack = await send(m);
      assert.equal(ack.status, 'ok', JSON.stringify(ack));
      await errorLine(m.id, expected);
    }
    assert.equal(runs('bad'), 0);
  });
});
