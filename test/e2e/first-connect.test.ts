import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { NatsServer } from '../support/nats-server.js';
import { StewardProcess } from '../support/steward.js';

describe('starting before the broker is up', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('accepts messages at once, keeps retrying the first connection, and delivers when the broker arrives', async () => {
    const nats = await NatsServer.start();
    cleanups.push(() => nats.close());
    await nats.stop(); // keep the port, take the broker away
    const common = { central: 'central', brokerUrl: `nats://127.0.0.1:${nats.port}`, flags: ['-startPubREQHello=0'] };
    const central = new StewardProcess({ name: 'central', ...common });
    cleanups.push(
      () => central.cleanup(),
      () => central.stop(),
    );
    await central.start({ waitConnected: false });
    const answer = await central.send(
      JSON.stringify({
        toNode: 'central',
        method: 'REQCliCommand',
        methodArgs: ['echo', 'queued-offline'],
        directory: 'early',
        fileName: 'out.txt',
      }),
    );
    assert.equal(answer[0]?.status, 'accepted');
    await eventually(() => central.stderr.includes('could not connect to the broker, retrying in 1 s'), { what: 'the retry log line' });
    const ship1 = new StewardProcess({ name: 'ship1', ...common });
    cleanups.push(
      () => ship1.cleanup(),
      () => ship1.stop(),
    );
    const ship1Started = ship1.start();
    await central.send(
      JSON.stringify({
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['echo', 'for-ship1'],
        directory: 'early',
        fileName: 'out.txt',
        retries: -1,
        ACKTimeout: 1,
      }),
    );
    await nats.restart();
    await ship1Started;
    assert.equal(
      await eventually(() => central.readData('early', 'ship1', 'out.txt'), { what: 'ship1 reply', timeoutMs: 30_000 }),
      'for-ship1\n',
    );
    assert.equal(await eventually(() => central.readData('early', 'central', 'out.txt'), { what: 'local reply' }), 'queued-offline\n');
    assert.match(central.stderr, /"msg":"connected to the broker"/);
  });
});
