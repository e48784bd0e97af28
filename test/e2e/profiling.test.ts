import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { freePort } from '../support/ports.js';
import type { StewardProcess } from '../support/steward.js';

/** A GET on the profiling port: its status and body, and when the answer was complete. */
async function get(url: string, token?: string): Promise<{ status: number; body: string; at: number }> {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  const body = await res.text();
  return { status: res.status, body, at: Date.now() };
}

describe('the profiling listener (-profilingPort)', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let url: string;
  let token: string;

  before(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    fleet = await startFleet(['central', 'ship1'], {
      flags: ['-startPubREQHello=0'],
      flagsFor: { central: [`-profilingPort=127.0.0.1:${port}`] },
    });
    [central] = fleet.nodes as [StewardProcess, StewardProcess];
    token = fs.readFileSync(path.join(central.dir, 'etc', 'token'), 'utf8').trim();
  });

  after(() => fleet?.close());

  it('answers 401 without the operator token or with a wrong one, and nothing else without it', async () => {
    for (const p of ['/debug/cpu?seconds=1', '/debug/heap', '/']) {
      const none = await get(`${url}${p}`);
      assert.equal(none.status, 401, p);
      assert.match(none.body, /operator token/);
      assert.equal((await get(`${url}${p}`, `${token}x`)).status, 401, p);
    }
    assert.equal((await get(`${url}/`, token)).status, 404);
    assert.equal((await get(`${url}/debug/cpu?seconds=301`, token)).status, 400);
    const post = await fetch(`${url}/debug/heap`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(post.status, 405);
    await post.text();
  });

  it('takes a 2-second CPU profile while the node serves messages, and refuses a second profile meanwhile', async () => {
    const started = central.stderr.split('cpu profile started').length;
    const cpu = get(`${url}/debug/cpu?seconds=2`, token);
    await eventually(() => central.stderr.split('cpu profile started').length > started, { what: 'the profile to start' });
    const busy = await get(`${url}/debug/heap`, token);
    assert.equal(busy.status, 409);
    assert.match(busy.body, /one at a time/);
    // A command to ship1 and its reply, while central is being profiled.
    const [line] = await central.send(
      JSON.stringify({
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['echo', 'profiled'],
        directory: 'prof',
        fileName: 'out.txt',
      }),
    );
    assert.equal(line?.status, 'accepted');
    const replied = await eventually(() => central.readData('prof', 'ship1', 'out.txt') === 'profiled\n' && Date.now(), {
      what: 'the reply from ship1',
    });
    const res = await cpu;
    assert.equal(res.status, 200);
    assert.ok(replied < res.at, 'the reply came while the profile was being taken');
    const profile = JSON.parse(res.body) as { nodes: unknown[]; startTime: number; endTime: number; samples: number[] };
    assert.ok(Array.isArray(profile.nodes) && profile.nodes.length > 0, 'nodes');
    assert.ok(Array.isArray(profile.samples) && profile.samples.length > 0, 'samples');
    // Microseconds: about two seconds of sampling.
    assert.ok(profile.endTime - profile.startTime >= 1_900_000, `profiled ${profile.endTime - profile.startTime} µs`);
  });

  it('answers a heap snapshot that parses, and a profile again once it is done', async () => {
    const res = await get(`${url}/debug/heap`, token);
    assert.equal(res.status, 200);
    const snap = JSON.parse(res.body) as { snapshot: { meta: { node_fields: string[] } }; nodes: number[] };
    assert.ok(snap.snapshot.meta.node_fields.includes('self_size'));
    assert.ok(snap.nodes.length > 1000, `${snap.nodes.length} node fields`);
    assert.equal((await get(`${url}/debug/cpu?seconds=1`, token)).status, 200);
  });

  it('takes a bare port as the Go original did: 127.0.0.1:<port>', () => {
    const etc = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-prof-'));
    try {
      const cfg = loadConfig(etc, { nodeName: 'n1', centralNodeName: 'central', profilingPort: '6060' });
      assert.deepEqual(cfg.profilingAddress, { host: '127.0.0.1', port: 6060 });
      assert.equal(loadConfig(etc, { profilingPort: '' }).profilingAddress, undefined);
    } finally {
      fs.rmSync(etc, { recursive: true, force: true });
    }
  });
});
