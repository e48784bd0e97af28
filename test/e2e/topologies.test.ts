import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, sleep } from '../support/eventually.js';
import { countedCommands, failedRows, lines, settled, tally } from '../support/exactly-once.js';
import { ConfiguredNatsServer, type NatsPorts } from '../support/nats-configured.js';
import { StewardProcess } from '../support/steward.js';
import { TcpProxy } from '../support/tcp-proxy.js';

// The configs below are the ones docs/topologies.md shows (with -1 = a port the kernel picks).

/** One server of a three-server cluster on loopback; `routes` are the cluster ports of servers started before. */
function clusterConfig(name: string, routes: number[]): (p: NatsPorts) => string {
  return (p) => `server_name: ${name}
listen: 127.0.0.1:${p.client}
http: 127.0.0.1:${p.http}
cluster {
  name: steward
  listen: 127.0.0.1:${p.cluster}
  routes: [${routes.map((r) => `nats-route://127.0.0.1:${r}`).join(', ')}]
}
`;
}

/**
 * The hub; leaf servers dial `advertise` (here a proxy that can cut the link). Without it a leaf
 * learns the hub's own leafnode address from the hub's INFO and reconnects around the proxy
 * (nats-server 2.9 sends it even with no_advertise).
 */
const hubConfig =
  (advertise: string) =>
  (p: NatsPorts): string => `server_name: hub
listen: 127.0.0.1:${p.client}
http: 127.0.0.1:${p.http}
leafnodes {
  listen: 127.0.0.1:${p.leaf}
  advertise: "${advertise}"
}
`;

/** The ship's own leaf server; `hubLeafUrl` is the hub's leafnode listener (here through a proxy that can cut the link). */
const leafConfig =
  (hubLeafUrl: string) =>
  (p: NatsPorts): string => `server_name: ship1-leaf
listen: 127.0.0.1:${p.client}
http: 127.0.0.1:${p.http}
leafnodes {
  remotes: [ { url: "${hubLeafUrl}" } ]
}
`;

/** Generous ACK timeouts of 2 s and no give-up: what must hold is "once", not "fast". */
const PATIENT = { ACKTimeout: 2, retries: -1, replyACKTimeout: 2, replyRetries: -1, methodTimeout: 60 };

/** Sends `count` counted commands from `from` to `to`; they append to `<to.dir>/<tag>.log` and reply into `<tag>.txt`. */
async function sendCounted(
  from: StewardProcess,
  to: StewardProcess,
  tag: string,
  count: number,
): Promise<{ ran: string; replies: string; count: number }> {
  const ran = path.join(to.dir, `${tag}.log`);
  const answers = await from.send(JSON.stringify(countedCommands(to.opts.name, count, ran, { ...PATIENT, fileName: `${tag}.txt` })));
  assert.deepEqual(
    answers.filter((a) => a.status !== 'accepted'),
    [],
    `${from.opts.name} accepts every ${tag} command`,
  );
  return { ran, replies: path.join(from.dataDir, 'results', to.opts.name, `${tag}.txt`), count };
}

/** Waits for every reply, then checks that each command ran exactly once and each reply arrived exactly once. */
async function assertOnce(batch: { ran: string; replies: string; count: number }, what: string): Promise<void> {
  await eventually(() => lines(batch.replies).length >= batch.count, {
    what: `${batch.count} replies of ${what}`,
    timeoutMs: 40_000,
    intervalMs: 200,
  });
  const ran = tally(
    lines(batch.ran),
    Array.from({ length: batch.count }, (_, n) => String(n)),
  );
  assert.deepEqual(ran, { duplicates: [], missing: [], unexpected: [] }, `${what}: every command ran exactly once`);
  const replies = tally(
    lines(batch.replies),
    Array.from({ length: batch.count }, (_, n) => `reply-${n}`),
  );
  assert.deepEqual(replies, { duplicates: [], missing: [], unexpected: [] }, `${what}: every reply arrived exactly once`);
}

describe('a NATS cluster of three servers', () => {
  const servers: ConfiguredNatsServer[] = [];
  let central: StewardProcess;
  let ship1: StewardProcess;

  before(async () => {
    const a = await ConfiguredNatsServer.start('A', clusterConfig('A', []), { cluster: true });
    const b = await ConfiguredNatsServer.start('B', clusterConfig('B', [a.ports.cluster]), { cluster: true });
    const c = await ConfiguredNatsServer.start('C', clusterConfig('C', [a.ports.cluster, b.ports.cluster]), { cluster: true });
    servers.push(a, b, c);
    for (const s of servers) {
      await eventually(async () => (await s.monitor<{ num_routes: number }>('routez')).num_routes === 2, {
        what: `server ${s.name} routed to the other two`,
      });
    }
    const flags = ['-startPubREQHello=0'];
    // central lists only A (the client learns the others from the cluster); ship1 lists B and C
    // and, as NATS clients do, picks one of them at random.
    [central, ship1] = await Promise.all([
      StewardProcess.start({ name: 'central', central: 'central', brokerUrl: a.url, flags }),
      StewardProcess.start({ name: 'ship1', central: 'central', brokerUrl: `${b.url},${c.url}`, flags }),
    ]);
  });

  after(async () => {
    await Promise.all([central, ship1].map((n) => n?.stop()));
    await Promise.all(servers.map((s) => s.close()));
    for (const n of [central, ship1]) n?.cleanup();
  });

  /** The server a node is connected to, from the servers' own connection lists. */
  async function serverOf(node: StewardProcess): Promise<ConfiguredNatsServer | undefined> {
    for (const s of servers) if (s.running && (await s.clientNames()).includes(node.opts.name)) return s;
    return undefined;
  }

  it('runs a command from central on server A on ship1 on another server', async () => {
    assert.equal((await eventually(() => serverOf(central), { what: 'central on a server' })).name, 'A');
    const ship1Server = await eventually(() => serverOf(ship1), { what: 'ship1 on a server' });
    assert.notEqual(ship1Server.name, 'A', 'ship1 is on B or C, the servers it lists');
    await assertOnce(await sendCounted(central, ship1, 'first', 1), 'a command across the cluster');
  });

  it('moves ship1 to another server when its server is killed, and loses no command or reply', async () => {
    const before = await eventually(() => serverOf(ship1), { what: 'ship1 on a server' });
    const during = await sendCounted(central, ship1, 'during', 150);
    await eventually(() => lines(during.replies).length > 0, { what: 'the first reply of the burst', timeoutMs: 30_000, intervalMs: 20 });
    await before.stop(true);
    assert.ok(lines(during.replies).length < during.count, 'the server died while the burst was in flight');
    const whileMoving = await sendCounted(central, ship1, 'moving', 30);

    const now = await eventually(() => serverOf(ship1), { what: 'ship1 on another server', timeoutMs: 20_000, intervalMs: 200 });
    assert.notEqual(now.name, before.name, `ship1 left the killed server ${before.name}`);
    // The server lists the connection a moment before the client has finished its handshake.
    await eventually(() => ship1.stderr.includes('"msg":"reconnected to the broker"'), { what: 'ship1 to log its reconnect' });
    const afterMove = await sendCounted(central, ship1, 'after', 30);

    await assertOnce(during, 'the burst in flight when the server died');
    await assertOnce(whileMoving, 'commands sent while ship1 moved');
    await assertOnce(afterMove, 'commands sent after the move');
    await eventually(() => settled(central, ship1), { what: 'nothing left to deliver or run', timeoutMs: 30_000, intervalMs: 200 });
    assert.deepEqual(failedRows(central), []);
    assert.deepEqual(failedRows(ship1), []);
    assert.equal(central.readErrorLog(), '', 'no error was reported to central');
  });
});

const SHIP1_RUNS_COMMANDS = `
[[rule]]
name = "ship1 may run commands on central"
from = ["ship1"]
methods = ["REQCliCommand"]
action = "allow"
`;

describe('a ship behind its own leaf node server', () => {
  let hub: ConfiguredNatsServer;
  let leaf: ConfiguredNatsServer;
  let link: TcpProxy;
  let central: StewardProcess;
  let ship1: StewardProcess;

  const leafConnected = async (): Promise<number> => (await hub.monitor<{ leafnodes: number }>('leafz')).leafnodes;

  before(async () => {
    link = await TcpProxy.start();
    hub = await ConfiguredNatsServer.start('hub', hubConfig(`127.0.0.1:${link.port}`), { leaf: true });
    link.targetPort = hub.ports.leaf;
    leaf = await ConfiguredNatsServer.start('ship1-leaf', leafConfig(`nats-leaf://127.0.0.1:${link.port}`));
    await eventually(async () => (await leafConnected()) === 1, { what: 'the leaf server linked to the hub' });
    const flags = ['-startPubREQHello=0'];
    [central, ship1] = await Promise.all([
      // ship1 commands central too ("and back"): central's policy allows it.
      StewardProcess.start({ name: 'central', central: 'central', brokerUrl: hub.url, flags, policy: SHIP1_RUNS_COMMANDS }),
      StewardProcess.start({ name: 'ship1', central: 'central', brokerUrl: leaf.url, flags }),
    ]);
  });

  after(async () => {
    await Promise.all([central, ship1].map((n) => n?.stop()));
    await leaf?.close();
    await link?.close();
    await hub?.close();
    for (const n of [central, ship1]) n?.cleanup();
  });

  it('runs commands both ways: central on the hub to ship1 on its leaf, and back', async () => {
    assert.deepEqual(await leaf.clientNames(), ['ship1'], 'ship1 is connected to its leaf server only');
    const down = await sendCounted(central, ship1, 'down', 3);
    const up = await sendCounted(ship1, central, 'up', 3);
    await assertOnce(down, 'central -> ship1');
    await assertOnce(up, 'ship1 -> central');
  });

  it('loses nothing when the link between the leaf and the hub is cut and restored', async () => {
    link.cut();
    await eventually(async () => (await leafConnected()) === 0, { what: 'the hub to lose the leaf' });
    const down = await sendCounted(central, ship1, 'cut-down', 20);
    const up = await sendCounted(ship1, central, 'cut-up', 20);
    await sleep(3_000); // the outage itself
    assert.deepEqual([lines(down.ran).length, lines(up.ran).length], [0, 0], 'nothing crosses a cut link');
    link.restore();
    await eventually(async () => (await leafConnected()) === 1, { what: 'the leaf to link to the hub again', timeoutMs: 20_000 });
    await assertOnce(down, 'central -> ship1 across the cut');
    await assertOnce(up, 'ship1 -> central across the cut');
  });

  it('loses nothing when the leaf server itself is killed and restarted', async () => {
    await leaf.stop(true);
    const down = await sendCounted(central, ship1, 'restart-down', 20);
    const up = await sendCounted(ship1, central, 'restart-up', 20);
    await sleep(2_000); // the outage itself
    assert.deepEqual([lines(down.ran).length, lines(up.ran).length], [0, 0], 'nothing runs while the leaf server is down');
    await leaf.restart();
    await eventually(async () => (await leafConnected()) === 1, { what: 'the restarted leaf to link to the hub', timeoutMs: 20_000 });
    await assertOnce(down, 'central -> ship1 across the leaf restart');
    await assertOnce(up, 'ship1 -> central across the leaf restart');
    await eventually(() => settled(central, ship1), { what: 'nothing left to deliver or run', timeoutMs: 30_000, intervalMs: 200 });
    assert.deepEqual(failedRows(central), []);
    assert.deepEqual(failedRows(ship1), []);
    assert.equal(central.readErrorLog(), '', 'no error was reported to central');
  });
});
