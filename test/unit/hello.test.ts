import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import pino from 'pino';
import { HelloSender } from '../../src/node/hello.js';
import { TRUST_OFF } from '../../src/trust/trust.js';
import { FakeTransport } from '../support/fake-transport.js';

/** Lets the encoding and publishing promises of a hello run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

function sender(t: FakeTransport, intervalMs = 1000): HelloSender {
  return new HelloSender({
    nodeName: 'ship1',
    centralNodeName: 'central',
    intervalMs,
    labels: {},
    ackTimeoutMs: 5000,
    wire: { serialization: 'json', compression: '' },
    transport: t,
    trust: TRUST_OFF,
    deliverLocally: async () => undefined,
    logger: pino({ level: 'silent' }),
  });
}

/** A started sender on `t`, its first hello sent (a stalled link when `stalled`). */
async function started(t: FakeTransport, stalled = false): Promise<HelloSender> {
  if (stalled) t.holdFlush();
  const h = sender(t);
  h.start();
  await settle();
  return h;
}

/** `n` hello intervals pass. */
async function intervals(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    mock.timers.tick(1000);
    await settle();
  }
}

/**
 * Hellos on a link that holds traffic (connection open, nothing through: a stalled link). Each
 * hello queued meanwhile used to arrive at once when the link let go, and central refused those
 * over its 2 a second and logged a line about an honest node (seen in a loaded chaos run).
 */
describe('hello sender', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('sends one hello at start and one per interval while the broker confirms them', async () => {
    const t = new FakeTransport();
    const h = await started(t);
    await intervals(3);
    h.stop();
    assert.equal(t.published.length, 4);
    assert.equal(t.published[0]?.subject, 'central.REQHello.EventNACK');
  });

  it('queues no second hello while the first is not through a stalled link, and sends again once it is', async () => {
    const t = new FakeTransport();
    const h = await started(t, true);
    await intervals(2);
    assert.equal(t.published.length, 1, 'hellos piled up behind the stalled link');
    t.releaseFlush();
    await settle();
    await intervals(1);
    h.stop();
    assert.equal(t.published.length, 2);
  });

  it('tries again after three intervals without a confirmation (a flush that never ends does not silence the node)', async () => {
    const t = new FakeTransport();
    const h = await started(t, true);
    await intervals(3);
    h.stop();
    assert.equal(t.published.length, 2);
  });

  it('says hello at once when the connection comes back, even with one unconfirmed', async () => {
    const t = new FakeTransport();
    const h = await started(t, true);
    t.setConnected(false);
    t.setConnected(true);
    await settle();
    h.stop();
    assert.equal(t.published.length, 2);
  });
});
