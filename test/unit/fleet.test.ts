import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobOfMessage, targetMessageId } from '../../src/fleet/job-events.js';
import { jobSpec } from '../../src/fleet/requests.js';
import { batches, countOf, overFailures, parseCount, parseDuration } from '../../src/fleet/rollout.js';
import { expand, matches, parseLabels } from '../../src/fleet/selector.js';

const known = new Map<string, Record<string, string>>([
  ['central', {}],
  ['ship1', { role: 'ship', site: 'north' }],
  ['ship2', { role: 'ship', site: 'south' }],
  ['edge1', { role: 'edge', site: 'north' }],
]);

describe('selectors', () => {
  it("expands '*' to every known node, where to those with all its labels, names and where to their intersection", () => {
    assert.deepEqual(expand({ names: '*', where: {} }, known), ['central', 'edge1', 'ship1', 'ship2']);
    assert.deepEqual(expand({ names: '*', where: { role: 'ship' } }, known), ['ship1', 'ship2']);
    assert.deepEqual(expand({ names: '*', where: { role: 'ship', site: 'north' } }, known), ['ship1']);
    assert.deepEqual(expand({ names: ['ship1', 'edge1', 'ghost'], where: { site: 'north' } }, known), ['edge1', 'ship1']);
    // A bare name need not be known: a message to a node not heard from yet is fine.
    assert.deepEqual(expand({ names: ['ghost', 'ship2', 'ghost'], where: {} }, known), ['ghost', 'ship2']);
    assert.deepEqual(expand({ names: '*', where: { role: 'submarine' } }, known), []);
    assert.equal(matches({ a: '1' }, {}), true);
  });

  it('parses labels and says what is wrong', () => {
    assert.deepEqual(parseLabels('role=ship, site=north,'), { role: 'ship', site: 'north' });
    assert.deepEqual(parseLabels('path=/a/b:c'), { path: '/a/b:c' });
    assert.throws(() => parseLabels('role'), /labels: "role" is not key=value/);
    assert.throws(() => parseLabels('ro le=x'), /label key "ro le" must be 1 to 63/);
    assert.throws(() => parseLabels('k=v v'), /label k: the value must be/);
  });
});

describe('rollouts', () => {
  it('cuts targets into batches of N or N% (at least one node)', () => {
    const t = Array.from({ length: 25 }, (_, i) => `n${i}`);
    assert.deepEqual(
      batches(t, { batch: 10, batchWaitMs: 0 }).map((b) => b.length),
      [10, 10, 5],
    );
    assert.deepEqual(
      batches(t, { batch: '10%', batchWaitMs: 0 }).map((b) => b.length),
      [3, 3, 3, 3, 3, 3, 3, 3, 1],
    );
    assert.deepEqual(
      batches(['a', 'b'], { batch: '1%', batchWaitMs: 0 }).map((b) => b.length),
      [1, 1],
    );
    assert.deepEqual(batches(t, undefined), [t]);
  });

  it('stops when failures exceed the limit: 0 stops at the first, a percentage of the targets', () => {
    assert.equal(overFailures({ batch: 1, batchWaitMs: 0, maxFailures: 0 }, 1, 10), true);
    assert.equal(overFailures({ batch: 1, batchWaitMs: 0, maxFailures: 0 }, 0, 10), false);
    assert.equal(overFailures({ batch: 1, batchWaitMs: 0, maxFailures: '10%' }, 10, 100), false);
    assert.equal(overFailures({ batch: 1, batchWaitMs: 0, maxFailures: '10%' }, 11, 100), true);
    assert.equal(overFailures({ batch: 1, batchWaitMs: 0 }, 99, 100), false);
    assert.equal(countOf('0%', 50), 0);
  });

  it('parses counts and durations, refusing what makes no sense', () => {
    assert.equal(parseCount('10', 'batch', false), 10);
    assert.equal(parseCount('25%', 'batch', false), '25%');
    assert.throws(() => parseCount('0', 'rollout batch', false), /rollout batch 0: at least 1/);
    assert.throws(() => parseCount('101%', 'batch', false), /a percentage from 1 to 100/);
    assert.throws(() => parseCount('-1', 'batch', false), /is not a number or a percentage/);
    assert.equal(parseDuration('90s', 'x'), 90_000);
    assert.equal(parseDuration(30, 'x'), 30_000);
    assert.equal(parseDuration('2d', 'x'), 172_800_000);
    assert.throws(() => parseDuration('-5s', 'every'), /every "-5s" is not a duration/);
    assert.throws(() => parseDuration('0', 'every'), /must be more than 0/);
  });

  it('checks a job request as a whole: selector, rollout and interval', () => {
    assert.deepEqual(
      jobSpec({ names: '*', where: { role: 'ship' }, rollout: { batch: '10%', batchWait: '30s', maxFailures: 0 }, every: '1h' }),
      {
        selector: { names: '*', where: { role: 'ship' } },
        rollout: { batch: '10%', batchWaitMs: 30_000, maxFailures: 0 },
        everyMs: 3_600_000,
      },
    );
    assert.throws(() => jobSpec({ names: '*', where: {}, every: '1s' }), /at least 5 s between runs/);
    assert.throws(() => jobSpec({ names: '*', where: { 'a b': 'x' } }), /label key "a b"/);
  });

  it('derives each target message id from its job and place, and back', () => {
    assert.equal(targetMessageId('01J', 7), '01J-t7');
    assert.equal(jobOfMessage('01J-t7'), '01J');
    assert.equal(jobOfMessage('01J-r0'), undefined);
    assert.equal(jobOfMessage('01J'), undefined);
  });
});
