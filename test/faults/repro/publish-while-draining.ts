/**
 * Repro: NatsTransport.publish() promises "false when not connected", but while stop() drains
 * the connection it throws DrainingConnectionError. The hello sender calls it from a promise
 * without a catch (src/node/node.ts, startHello), so a hello due while the node stops is logged
 * as an "unhandled rejection". Exits 1 while publish() throws.
 * `npx tsx test/faults/repro/publish-while-draining.ts`
 */
import { pino } from 'pino';
import { NatsTransport } from '../../../src/transport/nats.js';
import { NatsServer } from '../../support/nats-server.js';

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
await t.start();
t.subscribe('n1.REQHello.EventNACK', () => {});
let stopped = false;
const stopping = t.stop().then(() => (stopped = true));
let threw: Error | undefined;
while (!stopped && threw === undefined) {
  try {
    t.publish('central.REQHello.EventNACK', new Uint8Array([1]), {});
  } catch (err) {
    threw = err as Error;
  }
  await new Promise((r) => setTimeout(r, 0));
}
await stopping;
await nats.close();
console.log(threw === undefined ? 'publish() never threw during stop()' : `BUG: publish() threw during stop(): ${threw.name}: ${threw.message}`);
process.exit(threw === undefined ? 0 : 1);
