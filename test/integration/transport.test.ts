import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { NatsTransport } from '../../src/transport/nats.js';
import { NatsServer } from '../support/nats-server.js';

function transport(port: number, nodeName: string): NatsTransport {
  return new NatsTransport({
    servers: [`127.0.0.1:${port}`],
    nodeName,
    connectTimeoutMs: 2000,
    connectRetryIntervalMs: 1000,
    reconnectJitterMs: 100,
    reconnectJitterTlsMs: 1000,
    tls: undefined,
    nkeySeed: undefined,
    logger: pino({ level: 'silent' }),
  });
}

describe('the NATS transport against a real nats-server', () => {
  it('carries the headers it is given, on a publish and on a request, and sends nothing with a line break in a header', async () => {
    const nats = await NatsServer.start();
    const [a, b] = [transport(nats.port, 'a'), transport(nats.port, 'b')];
    try {
      await a.start();
      await b.start();
      const heard: Record<string, string>[] = [];
      const names = ['serial', 'cmp', 'st-proof', 'absent'];
      b.subscribe('b.>', (m) => {
        heard.push(Object.fromEntries(names.map((n) => [n, m.header(n)])));
        m.respond(Buffer.from('ack'));
      });
      const proof = `a U${'A'.repeat(55)} m2.abc_-DEF`;
      assert.equal(a.publish('b.REQHello.EventNACK', new Uint8Array([1]), { serial: 'cbor', cmp: 'z', 'st-proof': proof }), 'sent');
      const reply = await a.request('b.REQCliCommand.CommandACK', new Uint8Array([2]), { serial: 'json', 'st-proof': proof }, 2000);
      assert.equal(Buffer.from(reply).toString(), 'ack');
      for (const bad of ['a\r\nst-proof: forged', 'a\nb', 'a\r']) {
        assert.equal(a.publish('b.REQHello.EventNACK', new Uint8Array([3]), { serial: 'cbor', 'st-proof': bad }), 'refused');
        await assert.rejects(a.request('b.REQCliCommand.CommandACK', new Uint8Array([4]), { 'st-proof': bad }, 500), /line break|header/);
      }
      // A round trip after the refused ones: had any of them been sent, it would be heard first.
      await a.request('b.REQCliCommand.CommandACK', new Uint8Array([5]), { serial: 'cbor' }, 2000);
      assert.deepEqual(heard, [
        { serial: 'cbor', cmp: 'z', 'st-proof': proof, absent: '' },
        { serial: 'json', cmp: '', 'st-proof': proof, absent: '' },
        { serial: 'cbor', cmp: '', 'st-proof': '', absent: '' },
      ]);
    } finally {
      await a.stop();
      await b.stop();
      await nats.close();
    }
  });

  it('publish() answers instead of throwing while the connection drains at stop, and says disconnected after it', async () => {
    const nats = await NatsServer.start();
    const t = transport(nats.port, 'n1');
    try {
      await t.start();
      t.subscribe('n1.REQHello.EventNACK', () => {});
      assert.equal(t.publish('central.REQHello.EventNACK', new Uint8Array([1]), {}), 'sent');
      let stopped = false;
      const stopping = t.stop().then(() => (stopped = true));
      // Publishing while the stop drains must never throw (whether the drain is seen in time
      // depends on the machine, so only the answer after the stop is asserted).
      while (!stopped) {
        t.publish('central.REQHello.EventNACK', new Uint8Array([1]), {});
        await new Promise((r) => setTimeout(r, 0));
      }
      await stopping;
      assert.equal(t.publish('central.REQHello.EventNACK', new Uint8Array([1]), {}), 'disconnected');
    } finally {
      await t.stop();
      await nats.close();
    }
  });
});
