import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Prng, seedFrom } from './prng.js';
import { drawIteration, FAULT_KINDS, FINITE_WINDOW_MS, type Fault, type Shape } from './schedule.js';

// `npx tsx --test test/faults/schedule.test.ts`: the schedule drawing alone, no processes.

const shape = (cluster: boolean): Shape => ({
  cluster,
  windowMs: 10_000,
  flows: [
    { from: 'central', to: 'ship1' },
    { from: 'central', to: 'ship2' },
    { from: 'ship1', to: 'ship2' },
  ],
  senders: ['central', 'ship1'],
  receivers: ['ship1', 'ship2'],
  nodes: ['central', 'ship1', 'ship2'],
  servers: cluster ? 3 : 1,
});

const plans = (cluster: boolean, n: number): ReturnType<typeof drawIteration>[] =>
  Array.from({ length: n }, (_, k) => drawIteration(new Prng(seedFrom(`7:${k}`)), shape(cluster)));

/** What a fault holds while it lasts: a node's life, a node's link, or the broker. */
function holds(f: Fault): string[] {
  if (f.kind === 'broker-restart' || f.kind === 'server-loss') return ['broker'];
  return f.nodes.map((n) => `${f.kind.startsWith('link-') ? 'link' : 'node'}:${n}`);
}

describe('the fault schedule', () => {
  it('draws the same iteration again from the same seed', () => {
    const a = drawIteration(new Prng(seedFrom('1234:17')), shape(false));
    const b = drawIteration(new Prng(seedFrom('1234:17')), shape(false));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, drawIteration(new Prng(seedFrom('1234:18')), shape(false)));
  });

  it('never has two faults on the same node, link or broker at once', () => {
    for (const p of plans(false, 500).concat(plans(true, 500))) {
      const busy = new Map<string, { from: number; to: number }[]>();
      for (const f of p.faults) {
        for (const key of holds(f)) {
          const spans = busy.get(key) ?? [];
          for (const s of spans)
            assert.ok(f.atMs >= s.to || f.atMs + f.durationMs <= s.from, `${key} overlaps in ${JSON.stringify(p.faults)}`);
          spans.push({ from: f.atMs, to: f.atMs + f.durationMs });
          busy.set(key, spans);
        }
      }
    }
  });

  it('draws every kind of its topology, and none of the other', () => {
    const kinds = (cluster: boolean): Set<string> => new Set(plans(cluster, 500).flatMap((p) => p.faults.map((f) => f.kind)));
    const all = Object.values(FAULT_KINDS);
    assert.deepEqual([...kinds(false)].sort(), all.filter((k) => k !== 'server-loss').sort());
    assert.deepEqual([...kinds(true)].sort(), all.filter((k) => k !== 'broker-restart').sort());
  });

  it('keeps a node offline longer than the finite retry window, and sends it finite commands meanwhile', () => {
    let seen = 0;
    for (const p of plans(false, 500)) {
      for (const f of p.faults.filter((x) => x.kind === 'offline-long')) {
        seen++;
        assert.ok(f.durationMs > FINITE_WINDOW_MS);
        const flow = f.nodes[0] === 'ship1' ? 0 : 1;
        assert.ok(
          p.batches.some((b) => b.finite && b.flow === flow && b.atMs > f.atMs && b.atMs < f.atMs + f.durationMs),
          'a finite batch to the offline node is sent while it is away',
        );
      }
    }
    assert.ok(seen > 0);
  });
});
