import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { StewardProcess } from '../support/steward.js';

describe('a flood of garbage on a node subject', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;
  let nc: NatsConnection;

  before(async () => {
    fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0'] });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
    nc = await connect({ servers: fleet.nats.url, name: 'flood-test' });
  });

  after(async () => {
    await nc?.close();
    await fleet?.close();
  });

  it('reports at most the burst allowance to central plus one summary line, and keeps working', async () => {
    for (let i = 0; i < 3000; i++) nc.publish('ship1.REQCliCommand.CommandACK', randomBytes(64));
    await nc.flush();
    const summary = await eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => /more error reports were not sent/.test(l)),
      { what: 'the summary line', timeoutMs: 30_000 },
    );
    assert.match(summary, /node: ship1, error: \d+ more error reports were not sent \(over 100 per second\); they are in the log of ship1/);
    const malformed = central
      .readErrorLog()
      .split('\n')
      .filter((l) => l.includes('malformed message on ship1.REQCliCommand.CommandACK'));
    assert.ok(malformed.length >= 1000 && malformed.length < 3000, `${malformed.length} malformed lines reached central`);
    assert.ok(ship1.running);
    await central.send(
      JSON.stringify({
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['echo', 'still-here'],
        directory: 'flood',
        fileName: 'out.txt',
      }),
    );
    assert.equal(
      await eventually(() => central.readData('flood', 'ship1', 'out.txt'), { what: 'the reply after the flood' }),
      'still-here\n',
    );
  });
});
