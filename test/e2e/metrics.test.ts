import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../support/ports.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { StewardProcess } from '../support/steward.js';

/** A port that was free a moment ago: bound on 127.0.0.1 by the kernel's choice, then released. */

/** One sample of a scrape: the metric name with its labels as written (`name{a="b"}`), and its value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** The TCP ports a process listens on, from /proc: its socket inodes matched against /proc/net/tcp{,6}. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      // local_address is field 1 (hex ip:port), st is field 3 (0A = LISTEN), inode is field 9.
      if (f[3] === '0A' && f[9] !== undefined && inodes.has(f[9])) ports.push(Number.parseInt((f[1] ?? '').split(':')[1] ?? '', 16));
    }
  }
  return ports;
}

describe('Prometheus metrics', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;
  let port: number;
  let url: string;
  const startedS = Math.floor(Date.now() / 1000);

  before(async () => {
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    fleet = await startFleet(['central', 'ship1'], {
      flags: ['-startPubREQHello=1'],
      flagsFor: { central: [`-promHostAndPort=127.0.0.1:${port}`] },
    });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
  });

  after(() => fleet?.close());

  it('counts deliveries, failures, retries and hellos the way an operator checks them', async () => {
    const [ok] = await central.send(
      JSON.stringify({
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['echo', 'metered'],
        directory: 'metrics',
        fileName: 'out.txt',
      }),
    );
    const [lost] = await central.send(
      JSON.stringify({ toNode: 'ghost', method: 'REQCliCommand', methodArgs: ['echo', 'never'], ACKTimeout: 1, retries: 1 }),
    );
    assert.equal(ok?.status, 'accepted');
    assert.equal(lost?.status, 'accepted');
    await eventually(() => central.readData('metrics', 'ship1', 'out.txt') === 'metered\n', { what: 'the reply from ship1' });
    await eventually(() => central.readErrorLog().includes(`id: ${lost?.id as string}`), { what: 'the max-retries line for ghost' });

    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const m = samples(await res.text());
    const value = (name: string): number => {
      const v = m.get(name);
      assert.notEqual(v, undefined, `${name} is in the scrape`);
      return v as number;
    };

    assert.ok(value('steward_messages_delivered_total{toNode="ship1"}') >= 1, 'delivered to ship1');
    assert.ok(value('steward_nats_delivered_total') >= 1);
    assert.equal(value('steward_messages_failed_total{toNode="ghost",reason="max-retries"}'), 1);
    assert.equal(value('steward_nats_messages_failed_acks_total'), 1);
    // retries: 1 is one re-send after the first attempt.
    assert.equal(value('steward_messages_retried_total{toNode="ghost"}'), 1);
    assert.equal(value('steward_user_messages_total'), 2);
    assert.equal(m.has('steward_messages_delivered_total{toNode="ghost"}'), false, 'nothing was delivered to ghost');
    assert.equal(value('steward_queue_depth{toNode="ghost"}'), 0, 'the failed message no longer waits');
    assert.ok(value('steward_error_messages_received_total') >= 1, 'central received the max-retries report');

    // Hello last-seen for ship1 (hellos every second), in unix seconds.
    const seen = await eventually(
      async () => samples(await (await fetch(`${url}/metrics`)).text()).get('steward_hello_node_contact_last{nodeName="ship1"}'),
      {
        what: "ship1's hello in the metrics",
      },
    );
    assert.ok(seen >= startedS - 1 && seen <= Date.now() / 1000 + 1, `last hello from ship1 at ${seen}`);
    assert.ok(value('steward_hello_nodes_total') >= 1);

    // Histograms: the ACK from ship1, and the reply method that ran on central.
    assert.ok(value('steward_ack_round_trip_seconds_count') >= 1);
    assert.equal(value('steward_ack_round_trip_seconds_bucket{le="+Inf"}'), value('steward_ack_round_trip_seconds_count'));
    assert.ok(m.has('steward_ack_round_trip_seconds_bucket{le="0.005"}'));
    assert.ok(value('steward_method_duration_seconds_count{method="REQToFileAppend"}') >= 1);
    assert.ok(value('steward_method_duration_seconds_bucket{le="+Inf",method="REQToFileAppend"}') >= 1);
    assert.ok(value('steward_messages_received_total{method="REQToFileAppend"}') >= 1);

    // Default process metrics come along.
    assert.ok(value('process_resident_memory_bytes') > 0);
  });

  it('serves /metrics and nothing else', async () => {
    for (const p of ['/', '/other', '/metrics/', '/debug/pprof/']) {
      const res = await fetch(`${url}${p}`);
      assert.equal(res.status, 404, p);
      await res.text();
    }
    const post = await fetch(`${url}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    await post.text();
  });

  it('opens the metrics port only on the node given promHostAndPort', () => {
    assert.deepEqual(listeningPorts(central.pid as number), [port]);
    assert.deepEqual(listeningPorts(ship1.pid as number), []);
  });
});
