import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli } from '../support/cli.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { StewardProcess } from '../support/steward.js';

/**
 * Fleet operations against real daemons: labels from hellos, selectors, jobs with a row per
 * node, rollouts that stop at a failure and survive a crash of central, recurring jobs.
 */
describe('jobs, labels and rollouts', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship3: StewardProcess;
  /** Where the commands leave a line each time they run, per node. */
  const marks = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-jobs-'));
  /** A command that records that it ran on the node (its folder is named after it), then prints `tag`. */
  const mark = (tag: string, exit = 0): string[] => [
    'bash',
    '-c',
    `n=$(basename $PWD | cut -d- -f2); echo ${tag} >> ${marks}/${tag}-$n; echo ${tag}-on-$n; exit ${exit}`,
  ];
  const ran = (tag: string, node: string): number => {
    try {
      return fs
        .readFileSync(path.join(marks, `${tag}-${node}`), 'utf8')
        .split('\n')
        .filter(Boolean).length;
    } catch {
      return 0;
    }
  };
  const jobJson = async (
    id: string,
  ): Promise<{
    job: { state: string; nextBatchMs: number | null; batch: number };
    targets: { node: string; state: string; detail: string | null }[];
  }> => {
    const r = await cli(['job', id, '--json'], central.dir);
    assert.equal(r.stderr, '');
    return JSON.parse(r.stdout) as never;
  };
  const stateOf = async (id: string): Promise<Record<string, string>> =>
    Object.fromEntries((await jobJson(id)).targets.map((t) => [t.node, t.state]));

  before(async () => {
    fleet = await startFleet(['central', 'ship1', 'ship2', 'ship3'], {
      flags: ['-startPubREQHello=1'],
      flagsFor: {
        ship1: ['-labels=role=ship,site=north'],
        ship2: ['-labels=role=ship,site=south'],
        ship3: ['-labels=role=edge,site=north'],
      },
    });
    [central, , , ship3] = fleet.nodes as [StewardProcess, StewardProcess, StewardProcess, StewardProcess];
    // Every node is known from its hello, with its labels (each node's own line: ship3's
    // site=north alone once let the tests start before ship1's hello had come).
    await eventually(
      async () => {
        const out = (await cli(['nodes'], central.dir)).stdout;
        return ['ship1 .*role=ship,site=north', 'ship2 .*role=ship,site=south', 'ship3 .*role=edge,site=north'].every((l) =>
          new RegExp(`^${l}$`, 'm').test(out),
        );
      },
      { what: 'the labels of every node at central' },
    );
  });

  after(async () => {
    await fleet?.close();
    fs.rmSync(marks, { recursive: true, force: true });
  });

  it('keeps the labels of hellos: steward nodes shows them and filters with --where', async () => {
    const all = await cli(['nodes'], central.dir);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^NODE\s+STATE\s+LAST SEEN\s+AGO\s+LABELS$/m);
    assert.match(all.stdout, /^ship1\s+online\s+\S+\s+\S+\s+role=ship,site=north$/m);
    assert.match(all.stdout, /^ship3\s+online\s+\S+\s+\S+\s+role=edge,site=north$/m);
    const ships = await cli(['nodes', '--where', 'role=ship'], central.dir);
    assert.deepEqual(
      ships.stdout
        .split('\n')
        .slice(1)
        .filter(Boolean)
        .map((l) => l.split(/\s+/)[0]),
      ['ship1', 'ship2'],
    );
    const both = await cli(['nodes', '--where', 'role=ship', '--where', 'site=north', '--json'], central.dir);
    assert.deepEqual(
      both.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { node: string; labels: object }).labels),
      [{ role: 'ship', site: 'north' }],
    );
  });

  it("sends to every node with a label (--to '*' --where), one job with a row per node and a summary", async () => {
    const r = await cli(['send', '--to', '*', '--where', 'role=ship', '--', ...mark('where')], central.dir);
    assert.equal(r.code, 0, r.stderr);
    const id = /^job (\S+)$/m.exec(r.stdout)?.[1] as string;
    assert.ok(id, r.stdout);
    assert.match(r.stdout, /--- ship1 \(\S+-t\d\)\nwhere-on-ship1\n/);
    assert.match(r.stdout, /--- ship2 \(\S+-t\d\)\nwhere-on-ship2\n/);
    assert.doesNotMatch(r.stdout, /ship3|central/);
    assert.match(r.stderr, new RegExp(`^job ${id}: done in [\\d.]+ s, 2 node\\(s\\): 2 ok$`, 'm'));
    assert.equal(ran('where', 'ship3'), 0);
    // The expansion is stored with the job and shown, a row per node.
    const shown = await cli(['job', id], central.dir);
    assert.match(shown.stdout, new RegExp(`^job ${id}: done, 2 node\\(s\\): ok 2$`, 'm'));
    assert.match(shown.stdout, /to \* where role=ship/);
    assert.match(shown.stdout, /^ship1\s+ok\s+1\s/m);
    assert.match(shown.stdout, /^ship2\s+ok\s+1\s/m);
    const list = await cli(['jobs'], central.dir);
    assert.match(list.stdout, new RegExp(`^${id}\\s+done\\s+\\S+\\s+\\* where role=ship\\s+REQCliCommand bash -c .*\\s2\\s+ok 2$`, 'm'));
  });

  it('takes --to and --where together as their intersection, and "*" in a message as every node known', async () => {
    const r = await cli(
      ['send', '--to', 'ship1,ship3', '--where', 'site=north', '--where', 'role=ship', '--', ...mark('inter')],
      central.dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /2?1 node\(s\): 1 ok/);
    assert.deepEqual([ran('inter', 'ship1'), ran('inter', 'ship3')], [1, 0]);
    const lines = await central.send(
      JSON.stringify([{ toNodes: ['*'], method: 'REQCliCommand', methodArgs: mark('star'), directory: 'star', fileName: 'out.txt' }]),
    );
    assert.deepEqual(lines.map((l) => l.toNode).sort(), ['central', 'ship1', 'ship2', 'ship3']);
    const job = (lines[0] as unknown as { job: string }).job;
    assert.ok(lines.every((l) => (l as unknown as { job: string }).job === job));
    for (const n of ['ship1', 'ship2', 'ship3']) await eventually(() => ran('star', n) === 1, { what: `the * job on ${n}` });
    await eventually(async () => (await jobJson(job)).job.state === 'done', { what: 'the * job to end' });
  });

  it('lists a node that is down as not responding, by name; with retries -1 it runs once when it is back and its row turns ok', async () => {
    await ship3.stop();
    // A delivery budget: spent while ship3 is down, the summary names it.
    const r = await cli(['send', '--to', 'ship1,ship3', '--retries', '1', '--ack-timeout', '1', '--', ...mark('down')], central.dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /--- ship1 \(\S+\)\ndown-on-ship1\n/);
    assert.match(r.stderr, /2 node\(s\): 1 ok, 1 not responding/);
    assert.match(r.stderr, /^no responses from: ship3$/m);
    const spent = /^job (\S+)$/m.exec(r.stdout)?.[1] as string;
    assert.equal((await stateOf(spent)).ship3, 'not-responding');
    // No budget: ship3's row says it does not respond, and the job waits for it.
    const forever = await cli(
      ['send', '--to', 'ship1,ship3', '--retries', '-1', '--ack-timeout', '1', '--no-wait', '--', ...mark('back')],
      central.dir,
    );
    const id = /^job (\S+)$/m.exec(forever.stdout)?.[1] as string;
    await eventually(async () => (await stateOf(id)).ship3 === 'not-responding', { what: 'ship3 not responding' });
    const shown = await cli(['job', id], central.dir);
    assert.match(shown.stdout, /^ship3\s+not-responding\s+1\s+\S+\s+\S+-t\d\s+no subscriber for ship3\./m);
    assert.equal((await jobJson(id)).job.state, 'running');
    await ship3.start();
    await eventually(async () => (await stateOf(id)).ship3 === 'ok', { what: "ship3's row to turn ok", timeoutMs: 30_000 });
    await eventually(async () => (await jobJson(id)).job.state === 'done', { what: 'the job to end' });
    assert.deepEqual([ran('back', 'ship1'), ran('back', 'ship3'), ran('down', 'ship3')], [1, 1, 0]);
  });

  it('--batch 1 --max-failures 0 with a failing command runs on exactly one node and skips the rest', async () => {
    const r = await cli(
      ['send', '--to', 'ship1,ship2,ship3', '--batch', '1', '--max-failures', '0', '--', ...mark('fail', 3)],
      central.dir,
    );
    assert.equal(r.code, 1);
    assert.equal(ran('fail', 'ship1') + ran('fail', 'ship2') + ran('fail', 'ship3'), 1);
    assert.match(r.stderr, /: stopped in [\d.]+ s, 3 node\(s\): .*1 error/);
    assert.match(r.stderr, /2 skipped/);
    assert.match(r.stderr, /^stopped: 1 node\(s\) failed, more than the 0 allowed: the rollout stopped$/m);
    assert.match(r.stderr, /^failed: ship1: error: REQCliCommand: command exited with code 3/m);
    assert.match(r.stdout, /--- ship2 skipped: /);
  });

  it('goes on with a rollout after a kill -9 of central between batches, running nothing twice', async () => {
    const r = await cli(
      ['send', '--to', 'ship1,ship2,ship3', '--batch', '1', '--batch-wait', '3s', '--no-wait', '--', ...mark('crash')],
      central.dir,
    );
    assert.equal(r.code, 0, r.stderr);
    const id = /^job (\S+)$/m.exec(r.stdout)?.[1] as string;
    // The first batch answered and the wait for the second started: then central dies.
    await eventually(
      async () => {
        const j = await jobJson(id);
        return j.targets.find((t) => t.node === 'ship1')?.state === 'ok' && j.job.nextBatchMs !== null;
      },
      { what: 'the first batch to end' },
    );
    await central.kill9();
    assert.equal(ran('crash', 'ship2'), 0);
    await central.start();
    await eventually(async () => (await jobJson(id)).job.state === 'done', {
      what: 'the rollout to end after the restart',
      timeoutMs: 30_000,
    });
    assert.deepEqual(await stateOf(id), { ship1: 'ok', ship2: 'ok', ship3: 'ok' });
    assert.deepEqual([ran('crash', 'ship1'), ran('crash', 'ship2'), ran('crash', 'ship3')], [1, 1, 1]);
  });

  it('cancels what has not run: steward job cancel', async () => {
    const r = await cli(
      ['send', '--to', 'ship1,ship2,ship3', '--batch', '1', '--batch-wait', '60s', '--no-wait', '--', ...mark('cancel')],
      central.dir,
    );
    const id = /^job (\S+)$/m.exec(r.stdout)?.[1] as string;
    await eventually(async () => (await stateOf(id)).ship1 === 'ok', { what: 'the first batch' });
    const c = await cli(['job', 'cancel', id], central.dir);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, new RegExp(`^job ${id}: cancelled \\(cancelled by an operator\\)`, 'm'));
    assert.deepEqual(await stateOf(id), { ship1: 'ok', ship2: 'cancelled', ship3: 'cancelled' });
    const again = await cli(['job', id], central.dir);
    assert.equal(again.code, 1);
    assert.deepEqual([ran('cancel', 'ship1'), ran('cancel', 'ship2'), ran('cancel', 'ship3')], [1, 0, 0]);
  });

  it('runs a recurring job on schedule, across a restart of central, and pauses and resumes it', async () => {
    const r = await cli(
      ['send', '--to', 'ship2', '--where', 'role=ship', '--every', '5s', '--no-wait', '--', ...mark('every')],
      central.dir,
    );
    assert.equal(r.code, 0, r.stderr);
    const sid = /^job \S+ \(recurring job (\S+)\)$/m.exec(r.stdout)?.[1] as string;
    assert.ok(sid, r.stdout);
    await eventually(() => ran('every', 'ship2') === 1, { what: 'the first run' });
    await central.stop();
    await central.start();
    await eventually(() => ran('every', 'ship2') >= 2, { what: 'a run after the restart', timeoutMs: 20_000 });
    const p = await cli(['job', 'pause', sid], central.dir);
    assert.match(p.stdout, new RegExp(`^recurring job ${sid}: paused$`, 'm'));
    const paused = ran('every', 'ship2');
    // No run once its next run time has passed.
    const s = JSON.parse((await cli(['job', sid, '--json'], central.dir)).stdout) as { schedule: { nextRunMs: number; state: string } };
    assert.equal(s.schedule.state, 'paused');
    await eventually(() => Date.now() > s.schedule.nextRunMs + 2000, { what: 'the paused run time to pass', timeoutMs: 20_000 });
    assert.equal(ran('every', 'ship2'), paused);
    const shown = await cli(['job', sid], central.dir);
    assert.match(shown.stdout, new RegExp(`^recurring job ${sid}: paused, every 5s, ${paused} run\\(s\\)`, 'm'));
    await cli(['job', 'resume', sid], central.dir);
    await eventually(() => ran('every', 'ship2') === paused + 1, { what: 'a run after resume', timeoutMs: 20_000 });
    const c = await cli(['job', 'cancel', sid], central.dir);
    assert.match(c.stdout, /: cancelled$/m);
    assert.doesNotMatch((await cli(['jobs'], central.dir)).stdout, new RegExp(sid));
    assert.equal(ran('every', 'ship1'), 0);
  });

  it('refuses bad selectors, rollouts and intervals with one clear line each, queues nothing for them, and takes the good message beside them', async () => {
    const before = (await cli(['jobs', '--json'], central.dir)).stdout.split('\n').filter(Boolean).length;
    const lines = await central.send(
      JSON.stringify([
        { toNodes: ['*'], where: { 'ro le': 'ship' }, method: 'REQCliCommand', methodArgs: mark('bad') },
        { toNodes: ['ship1', 'ship2'], rollout: { batch: 0 }, method: 'REQCliCommand', methodArgs: mark('bad') },
        { toNodes: ['ship1', 'ship2'], every: '-5s', method: 'REQCliCommand', methodArgs: mark('bad') },
        { toNodes: ['*'], where: { role: 'submarine' }, method: 'REQCliCommand', methodArgs: mark('bad') },
        { toNodes: ['ship1', 'ship2'], rollout: { batch: '10%', speed: 'fast' }, method: 'REQCliCommand', methodArgs: mark('bad') },
        { toNode: 'ship1', method: 'REQCliCommand', methodArgs: mark('good'), directory: 'good', fileName: 'out.txt' },
      ]),
    );
    assert.deepEqual(
      lines.map((l) => [l.index, l.status]),
      [
        [0, 'error'],
        [1, 'error'],
        [2, 'error'],
        [3, 'error'],
        [4, 'error'],
        [5, 'accepted'],
      ],
    );
    assert.match(lines[0]?.error ?? '', /^message 0: label key "ro le" must be 1 to 63 letters/);
    assert.match(lines[1]?.error ?? '', /^message 1: rollout batch 0: at least 1$/);
    assert.match(lines[2]?.error ?? '', /^message 2: every "-5s" is not a duration/);
    assert.match(lines[3]?.error ?? '', /^message 3: \* where role=submarine matches no node this node knows/);
    assert.match(lines[4]?.error ?? '', /^message 4: .*speed/);
    await eventually(() => central.readData('good', 'ship1', 'out.txt') === 'good-on-ship1\n', { what: 'the good message' });
    const after = (await cli(['jobs', '--json'], central.dir)).stdout.split('\n').filter(Boolean).length;
    assert.equal(after, before);
    assert.equal(ran('bad', 'ship1') + ran('bad', 'ship2') + ran('bad', 'ship3'), 0);
    // The CLI says what is wrong before sending anything.
    const cliBad = await cli(['send', '--where', 'role', '--', 'true'], central.dir);
    assert.equal(cliBad.code, 2);
    assert.match(cliBad.stderr, /^steward: --where role: give key=value, e.g. --where role=ship$/m);
    const zero = await cli(['send', '--to', 'ship1,ship2', '--batch', '0', '--', 'true'], central.dir);
    assert.equal(zero.code, 1);
    assert.match(zero.stderr, /^error: message 0: rollout batch 0: at least 1$/m);
  });
});
