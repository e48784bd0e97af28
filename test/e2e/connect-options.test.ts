import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { NatsServer } from '../support/nats-server.js';
import { StewardProcess } from '../support/steward.js';

/** A TCP listener that accepts connections and never says a word: a broker that hangs in the handshake. */
async function silentBroker(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  const server = net.createServer((s) => {
    count++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('the NATS connection options', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('gives up a hanging handshake after natsConnOptTimeout and tries again every natsConnectRetryInterval', async () => {
    const silent = await silentBroker();
    cleanups.push(() => silent.close());
    const node = new StewardProcess({
      name: 'central',
      central: 'central',
      brokerUrl: `127.0.0.1:${silent.port}`,
      flags: ['-startPubREQHello=0', '-natsConnOptTimeout=1', '-natsConnectRetryInterval=2'],
    });
    cleanups.push(
      () => node.cleanup(),
      () => node.stop(),
    );
    await node.start({ waitConnected: false });
    // The client's default handshake timeout is 20 s: a timeout logged within 10 s is ours.
    const line = await eventually(() => node.stderr.split('\n').find((l) => l.includes('could not connect to the broker')), {
      what: 'a failed first connection in the log',
      timeoutMs: 10_000,
    });
    const logged = JSON.parse(line) as { err: string; msg: string };
    assert.equal(logged.err, 'timeout', 'the attempt ended by the connect timeout');
    assert.equal(logged.msg, 'could not connect to the broker, retrying in 2 s');
    await eventually(() => silent.connections() >= 2, { what: 'a second connection attempt', timeoutMs: 10_000 });
    assert.ok(node.running, 'the node keeps running while the broker hangs');
  });

  it('tries the next URL of -brokerAddress when the first one is dead, and works there', async () => {
    const nats = await NatsServer.start();
    cleanups.push(() => nats.close());
    const dead = await silentBroker();
    await dead.close(); // a port nobody listens on any more
    // The client shuffles the list; either order must end on the live server.
    const brokerUrl = `nats://127.0.0.1:${dead.port}, 127.0.0.1:${nats.port}`;
    const flags = ['-startPubREQHello=0', '-natsConnOptTimeout=2'];
    const [central, ship1] = await Promise.all([
      StewardProcess.start({ name: 'central', central: 'central', brokerUrl, flags }),
      StewardProcess.start({ name: 'ship1', central: 'central', brokerUrl, flags }),
    ]);
    cleanups.push(
      () => central.cleanup(),
      () => ship1.cleanup(),
      () => central.stop(),
      () => ship1.stop(),
    );
    assert.match(central.stderr, new RegExp(`"server":"127\\.0\\.0\\.1:${nats.port}".*"msg":"connected to the broker"`));
    const answer = await central.send(
      JSON.stringify({
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['echo', 'via-list'],
        directory: 'list',
        fileName: 'out.txt',
        retries: -1,
        ACKTimeout: 2,
      }),
    );
    assert.equal(answer[0]?.status, 'accepted');
    assert.equal(await eventually(() => central.readData('list', 'ship1', 'out.txt'), { what: 'the reply' }), 'via-list\n');
  });
});
