import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeMessage } from '../../src/message/codec.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { wireMessage } from '../support/hostile.js';
import { readSeed, RogueNode } from '../support/rogue.js';
import type { StewardProcess } from '../support/steward.js';

const SUBJECT = 'ship1.REQCliCommand.CommandACK';
const FLOOD = 3000;
const SUMMARY = /node: ship1, error: (\d+) more error reports were not sent \(over 100 per second\); they are in the log of ship1/;
const REFUSED_AT_CENTRAL =
  /node: central, error: (\d+) error lines from ship1 were refused in the last 10 s \(over 100 error lines a second\)/;

describe('a flood of garbage on a node subject', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;
  let rogue: RogueNode;
  let runNo = 0;

  before(async () => {
    fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0'] });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
    // A client holding central's key, that knows ship1's key (so it MACs, as central itself does).
    const ship1Key = readSeed(RogueNode.identityOf(ship1.dir)).publicKey;
    rogue = await RogueNode.connect(fleet.nats.url, 'central', RogueNode.identityOf(central.dir), { knownKeys: { ship1: ship1Key } });
  });

  after(async () => {
    await rogue?.close();
    await fleet?.close();
  });

  const lines = (re: RegExp | string): string[] =>
    central
      .readErrorLog()
      .split('\n')
      .filter((l) => (typeof re === 'string' ? l.includes(re) : re.test(l)));
  /**
   * The error reports that summary lines count: those ship1 did not send (over its 100 a second
   * after a burst of 1,000), and those central refused on arrival (over 100 a second from one node).
   */
  const summarized = (): number =>
    lines(SUMMARY).reduce((n, l) => n + Number(SUMMARY.exec(l)?.[1] ?? 0), 0) +
    lines(REFUSED_AT_CENTRAL).reduce((n, l) => n + Number(REFUSED_AT_CENTRAL.exec(l)?.[1] ?? 0), 0);

  async function assertStillServing(): Promise<void> {
    assert.ok(ship1.running);
    const tag = `still-here-${++runNo}`;
    await central.send(
      JSON.stringify({ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['echo', tag], directory: 'flood', fileName: `${tag}.txt` }),
    );
    assert.equal(
      await eventually(() => central.readData('flood', 'ship1', `${tag}.txt`), { what: 'the reply after the flood', timeoutMs: 30_000 }),
      `${tag}\n`,
    );
  }

  it('proven by a stolen key: reports at most the burst allowance to central plus summary lines, and keeps working', async () => {
    for (let i = 0; i < FLOOD; i++) rogue.publishRaw(SUBJECT, 'ship1', randomBytes(64));
    await rogue.flush();
    await eventually(() => lines(SUMMARY).length > 0, { what: 'the summary line', timeoutMs: 30_000 });
    const malformed = (): number => lines('malformed message on ship1.REQCliCommand.CommandACK').length;
    // Central takes 100 a second from one node: the first of them, and a trickle after.
    assert.ok(malformed() >= 100 && malformed() < 1000, `${malformed()} malformed lines reached central`);
    assert.equal(lines('unauthenticated').length, 0, 'every payload was proven');
    // Every refusal is either at central or counted in a summary line.
    await eventually(() => malformed() + summarized() >= FLOOD, { what: `${FLOOD} refusals told or counted`, timeoutMs: 30_000 });
    assert.equal(malformed() + summarized(), FLOOD);
    await assertStillServing();
  });

  it('with no proof: every copy of a command is refused before it is read, reported within the same limit, and none runs', async () => {
    const marker = path.join(ship1.dir, 'unproven-flood.marker');
    const before = summarized();
    for (let i = 0; i < FLOOD; i++) {
      // A command that would run if it were proven, each with its own id.
      const e = await encodeMessage(wireMessage({ methodArgs: ['bash', '-c', 'echo ran >> "$0"', marker], replyMethod: 'REQNone' }), {
        serialization: 'cbor',
        compression: '',
      });
      rogue.publishRaw(SUBJECT, 'ship1', e.payload, e.headers, false);
    }
    await rogue.flush();
    const refused = (): number =>
      lines(/node: ship1, error: refused a message on ship1\.REQCliCommand\.CommandACK \(\d+ bytes\): unauthenticated/).length;
    await eventually(() => refused() + summarized() - before >= FLOOD, { what: `${FLOOD} refusals told or counted`, timeoutMs: 60_000 });
    assert.equal(refused() + summarized() - before, FLOOD);
    assert.ok(refused() >= 1 && refused() < FLOOD, `${refused()} refusals reached central`);
    await assertStillServing();
    assert.equal(fs.existsSync(marker), false, 'no unproven command ran');
  });
});
