import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { UsageError } from '../../src/config/flags.js';
import { parseListenAddress } from '../../src/config/listen.js';
import { PrometheusMetrics } from '../../src/metrics/prometheus.js';

describe('the promHostAndPort value', () => {
  it('is off when empty and binds exactly the host it names', () => {
    assert.equal(parseListenAddress('promHostAndPort', ''), undefined);
    assert.deepEqual(parseListenAddress('promHostAndPort', '127.0.0.1:2112'), { host: '127.0.0.1', port: 2112 });
    assert.deepEqual(parseListenAddress('promHostAndPort', 'localhost:2112'), { host: 'localhost', port: 2112 });
    assert.deepEqual(parseListenAddress('promHostAndPort', '[::1]:2112'), { host: '::1', port: 2112 });
    assert.deepEqual(parseListenAddress('promHostAndPort', '0.0.0.0:2112'), { host: '0.0.0.0', port: 2112 });
  });

  it("binds localhost, not every interface, for the seed's :12112", () => {
    assert.deepEqual(parseListenAddress('promHostAndPort', ':12112'), { host: '127.0.0.1', port: 12112 });
  });

  it('refuses what is not host:port with a usage error naming the flag', () => {
    for (const bad of ['2112', 'localhost', 'localhost:', 'localhost:0', 'localhost:70000', '::1:2112', '[nothost]:2112']) {
      assert.throws(
        () => parseListenAddress('promHostAndPort', bad),
        (err: unknown) => err instanceof UsageError && err.message.startsWith('-promHostAndPort='),
        bad,
      );
    }
  });
});

describe('the Prometheus metrics', () => {
  const logger = pino({ level: 'silent' });

  it('count per destination and read the queues and hellos from the store when scraped', async () => {
    const m = new PrometheusMetrics(logger);
    m.accepted(3);
    m.delivered('ship1');
    m.delivered('ship1');
    m.retried('ship2');
    m.failed('ship2', 'max-retries');
    m.failed('ship3', 'rejected');
    m.received('REQErrorLog');
    m.ackRoundTrip(0.003);
    m.methodDuration('REQCliCommand', 0.2);
    let queues = [{ node: 'ship2', pending: 4, oldestMs: 10_000 }];
    m.readGauges(() => ({ queues, helloNodes: [{ name: 'ship1', lastSeenMs: 1_700_000_000_000 }] }));
    const text = await m.scrape(20_000);
    for (const line of [
      'steward_user_messages_total 3',
      'steward_messages_delivered_total{toNode="ship1"} 2',
      'steward_nats_delivered_total 2',
      'steward_messages_retried_total{toNode="ship2"} 1',
      'steward_nats_messages_missed_acks_total 1',
      'steward_messages_failed_total{toNode="ship2",reason="max-retries"} 1',
      'steward_messages_failed_total{toNode="ship3",reason="rejected"} 1',
      // Only a spent budget is a failed ACK in the seed's sense; a rejection is not.
      'steward_nats_messages_failed_acks_total 1',
      'steward_error_messages_received_total 1',
      'steward_ack_round_trip_seconds_bucket{le="0.005"} 1',
      'steward_ack_round_trip_seconds_bucket{le="0.0025"} 0',
      'steward_method_duration_seconds_bucket{le="0.25",method="REQCliCommand"} 1',
      'steward_queue_depth{toNode="ship2"} 4',
      'steward_queue_oldest_age_seconds{toNode="ship2"} 10',
      'steward_queue_depth{toNode="ship1"} 0',
      'steward_db_messages_current 4',
      'steward_hello_nodes_total 1',
      'steward_hello_node_contact_last{nodeName="ship1"} 1700000000',
    ]) {
      assert.ok(text.split('\n').includes(line), `scrape has: ${line}`);
    }
    queues = [];
    const later = await m.scrape(30_000);
    assert.ok(later.split('\n').includes('steward_queue_depth{toNode="ship2"} 0'), 'an emptied queue reads 0');
    assert.ok(later.split('\n').includes('steward_db_messages_current 0'));
  });
});
