import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { NatsTransport } from '../../src/transport/nats.js';
import { NatsServer } from '../support/nats-server.js';

describe('the NATS transport against a real nats-server', () => {
  it('publish() answers instead of throwing while the connection drains at stop, and says disconnected after it', async () => {
    const nats = await NatsServer.start();
    const t = new NatsTransport({
      servers: [`127.0.0.1:${nats.port}`],
      nodeName: 'n1',
      connectTimeoutMs: 2000,
      connectRetryIntervalMs: 1000,
      reconnectJitterMs: 100,
      reconnectJitterTlsMs: 1000,
      tls: undefined,
      nkeySeed: undefined,
      logger: pino({ level: 'silent' }),
    });
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
