import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { pino } from 'pino';
import { newMessage, type Message } from '../../src/message/message.js';
import { NO_METRICS } from '../../src/metrics/metrics.js';
import { Delivery } from '../../src/node/delivery.js';
import type { OutboxEntry } from '../../src/store/outbox.js';
import { TRUST_OFF } from '../../src/trust/trust.js';
import { ackBytes, FakeTransport, type FakeRequest } from '../support/fake-transport.js';

/** The outbox as delivery sees it, in memory. */
class MemoryOutbox {
  readonly rows: OutboxEntry[] = [];
  readonly state = new Map<string, string>();
  private seq = 0;

  add(messages: Message[]): OutboxEntry[] {
    return messages.map((message) => {
      const e = { seq: ++this.seq, message, attempts: 0, json: JSON.stringify(message) };
      this.rows.push(e);
      this.state.set(message.id, 'pending');
      return e;
    });
  }
  pending(node: string, afterSeq: number, limit: number): OutboxEntry[] {
    return this.rows
      .filter((r) => r.message.toNode === node && r.seq > afterSeq && this.state.get(r.message.id) === 'pending')
      .slice(0, limit);
  }
  destinations(): string[] {
    return [...new Set(this.rows.filter((r) => this.state.get(r.message.id) === 'pending').map((r) => r.message.toNode))];
  }
  async delivered(id: string): Promise<void> {
    this.state.set(id, 'delivered');
  }
  async failed(id: string): Promise<void> {
    this.state.set(id, 'failed');
  }
  async attempted(): Promise<void> {}
}

interface Finished {
  id: string;
  toNode: string;
  outcome: string;
  detail: string;
}

function setup(o: {
  perNode?: number;
  total?: number;
  answer?: (req: FakeRequest) => ReturnType<ConstructorParameters<typeof FakeTransport>[0] & {}>;
}) {
  const transport = new FakeTransport(o.answer ?? ((req) => ackBytes(idOf(req))));
  const outbox = new MemoryOutbox();
  const finished: Finished[] = [];
  const failures: { id: string; attempts: number; reason: string }[] = [];
  const perNode = o.perNode ?? 10;
  const delivery = new Delivery({
    nodeName: 'central',
    outbox,
    audit: { record: () => {} },
    transport,
    wire: { serialization: 'json', compression: '' },
    logger: pino({ level: 'silent' }),
    maxInFlightPerNode: perNode,
    maxInFlightTotal: o.total ?? perNode * 8,
    maxQueuedPerNode: perNode * 10,
    maxQueuedTotal: perNode * 20,
    metrics: NO_METRICS,
    kindOf: (method) => (method === 'REQHello' ? 'EventNACK' : 'CommandACK'),
    deliverLocally: async (msg) => ({ id: msg.id, status: 'ok' }),
    trust: TRUST_OFF,
    onFinished: (msg, outcome, detail) => finished.push({ id: msg.id, toNode: msg.toNode, outcome, detail }),
    onFailed: (msg, attempts, reason) => failures.push({ id: msg.id, attempts, reason }),
  });
  const send = (toNode: string, n = 1, extra: Partial<Message> = {}): Message[] => {
    const msgs = Array.from({ length: n }, () =>
      newMessage({ toNode, fromNode: 'central', method: 'REQCliCommand', ackTimeoutMs: 5000, retries: -1, ...extra }),
    );
    delivery.enqueue(outbox.add(msgs));
    return msgs;
  };
  return { transport, outbox, finished, failures, delivery, send };
}

function idOf(req: FakeRequest): string {
  return (JSON.parse(Buffer.from(req.payload).toString()) as Message).id;
}

/** Lets the promises that are ready run (timers stay mocked). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe('delivery', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('delivers the queued messages of a node that answers, each once, in order', async () => {
    const t = setup({});
    const sent = t.send('ship1', 5);
    await settle();
    assert.deepEqual(
      t.transport.requests.map(idOf),
      sent.map((m) => m.id),
    );
    assert.deepEqual(
      t.finished.map((f) => f.outcome),
      ['delivered', 'delivered', 'delivered', 'delivered', 'delivered'],
    );
    assert.equal(t.outbox.state.get(sent[4]!.id), 'delivered');
  });

  it('keeps at most ringBufferSize attempts on the wire to one node, and the global window over all', async () => {
    const t = setup({ perNode: 3, total: 5, answer: () => 'silent' });
    t.delivery.heardFrom('ship1');
    t.delivery.heardFrom('ship2');
    t.send('ship1', 10);
    t.send('ship2', 10);
    await settle();
    assert.equal(t.transport.open.get('ship1'), 3);
    assert.equal(t.transport.open.get('ship2'), 2);
  });

  it('waits out the ACK timeout of an unanswered attempt, and gives up after retries + 1 attempts with one failure', async () => {
    const t = setup({ answer: () => 'no-responders' });
    const [m] = t.send('ship1', 1, { retries: 2 });
    await settle();
    assert.equal(t.transport.requests.length, 1, 'no responders ends an attempt only at its ACK timeout');
    mock.timers.tick(4999);
    await settle();
    assert.equal(t.transport.requests.length, 1);
    mock.timers.tick(1);
    await settle();
    assert.equal(t.transport.requests.length, 2);
    mock.timers.tick(5000);
    await settle();
    assert.equal(t.transport.requests.length, 3);
    mock.timers.tick(5000);
    await settle();
    assert.equal(t.transport.requests.length, 3, 'no fourth attempt');
    assert.deepEqual(t.failures, [{ id: m!.id, attempts: 3, reason: 'max-retries' }]);
    assert.equal(t.outbox.state.get(m!.id), 'failed');
  });

  it('fails a message the receiver rejects at once, without retrying', async () => {
    const t = setup({ answer: (req) => ackBytes(idOf(req), 'rejected', 'no subscriber for REQFoo') });
    t.send('ship1');
    await settle();
    assert.equal(t.transport.requests.length, 1);
    assert.equal(t.failures[0]?.reason, 'rejected');
    assert.match(t.finished[0]?.detail ?? '', /no subscriber for REQFoo/);
  });

  it('does not count attempts while the broker is down, and sends once it is back', async () => {
    const t = setup({});
    t.transport.setConnected(false);
    const [m] = t.send('ship1', 1, { retries: 0 });
    mock.timers.tick(60_000);
    await settle();
    assert.equal(t.finished.length, 0);
    t.transport.setConnected(true);
    await settle();
    assert.deepEqual(t.finished, [{ id: m!.id, toNode: 'ship1', outcome: 'delivered', detail: '' }]);
  });

  it('cancels a message waiting for the broker at once, not after the reconnect', async () => {
    const t = setup({});
    t.transport.setConnected(false);
    const [m] = t.send('ship1');
    await settle();
    assert.equal(t.delivery.cancel(m!.id, 'ship1'), true);
    assert.deepEqual(
      t.finished.map((f) => f.outcome),
      ['cancelled'],
    );
    t.transport.setConnected(true);
    await settle();
    assert.equal(t.transport.requests.length, 0, 'a cancelled message is never sent');
  });

  it('sends a waiting message as soon as its node is heard from, before its retry time', async () => {
    let up = false;
    const t = setup({ answer: (req) => (up ? ackBytes(idOf(req)) : 'no-responders') });
    t.send('ship1');
    await settle();
    up = true;
    t.delivery.heardFrom('ship1');
    await settle();
    assert.equal(t.transport.requests.length, 2);
    assert.equal(t.finished[0]?.outcome, 'delivered');
  });

  it('delivers to a live node at once while 12 dead nodes hold a backlog that fills the global window', async () => {
    // ringBufferSize 10: 80 attempts on the wire at most over all nodes.
    const t = setup({ perNode: 10, answer: (req) => (req.subject.startsWith('ship1.') ? ackBytes(idOf(req)) : 'silent') });
    for (let i = 0; i < 12; i++) t.send(`dead${i}`, 30);
    await settle();
    mock.timers.tick(10_000);
    await settle();
    const [live] = t.send('ship1');
    await settle();
    assert.deepEqual(
      t.finished.filter((f) => f.id === live!.id).map((f) => f.outcome),
      ['delivered'],
      'the live node waited for no timeout',
    );
    for (let i = 0; i < 12; i++) assert.ok((t.transport.open.get(`dead${i}`) ?? 0) <= 1, `dead${i} has one probe on the wire at most`);
  });

  it('sends one probe per ACK timeout to a node that does not answer, and the messages behind it share its failed attempts', async () => {
    const t = setup({ perNode: 5, answer: () => 'no-responders' });
    t.delivery.heardFrom('ship1'); // it answered once: its whole window goes first
    const sent = t.send('ship1', 5, { retries: 1 });
    await settle();
    assert.equal(t.transport.requests.length, 5);
    mock.timers.tick(5000);
    await settle();
    assert.equal(t.transport.requests.length, 6, 'a node that did not answer gets one probe');
    assert.deepEqual(t.failures.map((f) => f.id).sort(), sent.map((m) => m.id).sort(), 'every message is given up after its 2 attempts');
    assert.ok(t.failures.every((f) => f.attempts === 2));
  });

  it('fails a fire-and-forget message the broker refuses instead of trying it forever', async () => {
    const t = setup({});
    t.transport.maxPayload = 100;
    const [m] = t.send('central-peer', 1, { method: 'REQHello', data: ['x'.repeat(500)] });
    await settle();
    assert.equal(t.failures[0]?.id, m!.id);
    assert.match(t.finished[0]?.detail ?? '', /the broker refused it \(\d+ bytes; its max payload is 100\)/);
  });

  it('gives destinations with work the global window in turn', async () => {
    const order: string[] = [];
    const t = setup({
      perNode: 5,
      total: 1,
      answer: (req) => {
        order.push(req.subject.split('.')[0]!);
        return ackBytes(idOf(req));
      },
    });
    t.delivery.heardFrom('a');
    t.delivery.heardFrom('b');
    t.send('a', 3);
    t.send('b', 3);
    await settle();
    assert.equal(order.length, 6);
    assert.ok(order.indexOf('b') < order.lastIndexOf('a'), `b waited for a's whole backlog: ${order.join(' ')}`);
    assert.ok(!/(a a a|b b b)/.test(order.join(' ')), `one destination took three turns in a row: ${order.join(' ')}`);
  });
});
