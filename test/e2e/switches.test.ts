import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { StewardProcess } from '../support/steward.js';

describe('a method switched off with its startSub flag', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;

  before(async () => {
    fleet = await startFleet(['central', 'ship1'], {
      flags: ['-startPubREQHello=0'],
      flagsFor: { ship1: ['-startSubREQCliCommand=false'] },
    });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
  });

  after(() => fleet?.close());

  it('has no subscriber: the sender retries and ends with the max-retries line', async () => {
    // The node's own account of what it subscribed to: the line must be there, and must list the others.
    const subscribed = ship1.stderr.split('\n').find((l) => l.includes('"msg":"subscribed"'));
    assert.ok(subscribed !== undefined, `ship1 logged what it subscribed to; stderr: ${ship1.stderr.slice(-1000)}`);
    const { methods } = JSON.parse(subscribed) as { methods: string[] };
    assert.ok(methods.includes('REQPing') && methods.includes('REQToFileAppend'), `the other methods are on: ${methods.join(', ')}`);
    assert.equal(methods.includes('REQCliCommand'), false, `REQCliCommand is off: ${methods.join(', ')}`);
    const [answer] = await central.send(
      JSON.stringify({ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['echo', 'off'], ACKTimeout: 1, retries: 1 }),
    );
    const id = answer?.id as string;
    const line = await eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes(id)),
      { what: 'the max-retries line' },
    );
    assert.match(
      line,
      /info: toNode: ship1, fromNode: central, method: REQCliCommand, .*attempts: 2, .*max retries reached, check if node is up and running and if it got a subscriber for the given REQ type/,
    );
  });

  it('leaves the other methods of the node working', async () => {
    await central.send(
      JSON.stringify({ toNode: 'ship1', method: 'REQPing', replyMethod: 'REQPong', directory: 'sw', fileName: 'pong.log' }),
    );
    assert.match(await eventually(() => central.readData('sw', 'ship1', 'pong.log'), { what: 'the pong' }), /pong received from ship1/);
  });
});
