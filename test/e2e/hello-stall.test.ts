import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { eventually, sleep } from '../support/eventually.js';
import { FaultyLink } from '../support/faulty-link.js';
import { NatsServer } from '../support/nats-server.js';
import { StewardProcess } from '../support/steward.js';

/** How long the summary of refused hellos takes to reach central's error log (origin-limits.ts). */
const SUMMARY_MS = 10_000;

/**
 * A node whose link stalls (connection open, nothing passing) while it says hello every second.
 * Each hello queued behind the stall used to arrive together when the link let go, over central's
 * 2 a second: central logged "N hellos from ship1 were refused", an error line about an honest node.
 */
describe('hellos across a stalled link', () => {
  let nats: NatsServer | undefined;
  let link: FaultyLink | undefined;
  const nodes: StewardProcess[] = [];

  after(async () => {
    const stops = await Promise.allSettled(nodes.map((n) => n.stop()));
    await link?.close();
    await nats?.close();
    for (const n of nodes) n.cleanup();
    for (const s of stops) if (s.status === 'rejected') throw s.reason;
  });

  it('arrive one at a time after the stall, and central logs no refusal', async () => {
    nats = await NatsServer.start();
    link = await FaultyLink.start(nats.port);
    const central = await StewardProcess.start({
      name: 'central',
      central: 'central',
      brokerUrl: `127.0.0.1:${nats.port}`,
      flags: ['-startPubREQHello=0'],
    });
    nodes.push(central);
    const ship1 = await StewardProcess.start({
      name: 'ship1',
      central: 'central',
      brokerUrl: `127.0.0.1:${link.port}`,
      flags: ['-startPubREQHello=1'],
    });
    nodes.push(ship1);
    const hellos = (): number =>
      central
        .readData('hello-messages', 'ship1', 'hello.log')
        .split('\n')
        .filter((l) => l !== '').length;
    await eventually(() => hellos() >= 2, { what: 'two hellos from ship1 at central' });

    link.stall();
    await sleep(5_000);
    const beforeResume = hellos();
    link.resume();
    // Hellos go on after the stall...
    await eventually(() => hellos() >= beforeResume + 3, { what: 'three hellos after the stall', timeoutMs: 20_000 });
    // ...and by the time a refusal would have been summed up, central's error log has none.
    await sleep(SUMMARY_MS + 1_000);
    assert.ok(hellos() >= beforeResume + 8, `hellos kept coming after the stall (${hellos() - beforeResume})`);
    assert.doesNotMatch(central.readErrorLog(), /hellos from ship1 were refused/);
  });
});
