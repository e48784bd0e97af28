import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { lines, tally } from '../support/exactly-once.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { alive, childrenOf, spawnHelpersOf } from '../support/procs.js';
import { cmd, type StewardProcess } from '../support/steward.js';

/**
 * The spawn helper: a small process that forks the commands of a busy node. What a user checks:
 * every command runs once and answers, the helper comes and goes on its own, and losing it (or
 * the node) loses no report and runs nothing twice.
 */
describe('the spawn helper', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let auto: StewardProcess;
  let on: StewardProcess;
  let execDir: string;

  before(async () => {
    fleet = await startFleet(['central', 'auto', 'on'], {
      flags: ['-startPubREQHello=0'],
      flagsFor: { on: ['-spawnHelper=on'] },
    });
    [central, auto, on] = fleet.nodes as [StewardProcess, StewardProcess, StewardProcess];
    execDir = fs.mkdtempSync(path.join(central.dir, 'exec-'));
  });

  after(() => fleet?.close());

  /** Commands that each leave a line `<tag>-<n>` in an exec log on the target and reply `reply-<tag>-<n>`. */
  const burst = (to: string, tag: string, n: number, extra = ''): { input: string; execLog: string; expected: string[] } => {
    const execLog = path.join(execDir, `${tag}.log`);
    const input = JSON.stringify(
      Array.from({ length: n }, (_, i) =>
        cmd(to, ['bash', '-c', `echo ${tag}-${i} >> ${execLog}; ${extra}echo reply-${tag}-${i}`], {
          directory: 'helper',
          fileName: `${tag}.txt`,
          methodTimeout: 60,
        }),
      ),
    );
    return { input, execLog, expected: Array.from({ length: n }, (_, i) => `${tag}-${i}`) };
  };

  it('auto: a lone command is forked by the node itself; a burst starts the helper, runs every command once, and the helper ends when idle', async () => {
    const one = burst('auto', 'lone', 1);
    assert.equal((await central.send(one.input))[0]?.status, 'accepted');
    await eventually(() => central.readData('helper', 'auto', 'lone.txt') === 'reply-lone-0\n', { what: 'the lone reply' });
    assert.doesNotMatch(auto.stderr, /spawn helper started/, 'no helper for one command');
    assert.deepEqual(spawnHelpersOf(auto.pid), []);

    const b = burst('auto', 'burst', 200, 'sleep 0.2; ');
    const answers = await central.send(b.input);
    assert.equal(answers.filter((a) => a.status === 'accepted').length, 200);
    const replies = await eventually(
      () => {
        const got = lines(path.join(central.dataDir, 'helper', 'auto', 'burst.txt'));
        return got.length >= 200 && got;
      },
      { what: '200 replies', timeoutMs: 60_000 },
    );
    assert.deepEqual(
      tally(
        replies,
        b.expected.map((e) => `reply-${e}`),
      ),
      { duplicates: [], missing: [], unexpected: [] },
    );
    assert.deepEqual(tally(lines(b.execLog), b.expected), { duplicates: [], missing: [], unexpected: [] }, 'each command ran once');
    assert.match(auto.stderr, /spawn helper started/);
    // Ten seconds without a command, and it is gone.
    await eventually(() => spawnHelpersOf(auto.pid).length === 0, { what: 'the helper to end when idle', timeoutMs: 30_000 });
    assert.equal(central.readErrorLog(), '', 'no error on the way');
  });

  it('a helper killed -9 while commands run: each of them is reported at central, none runs twice, and later commands run', async () => {
    const b = burst('on', 'killed', 12, 'sleep 3; ');
    assert.equal((await central.send(b.input)).filter((a) => a.status === 'accepted').length, 12);
    await eventually(() => lines(b.execLog).length === 12, { what: 'all 12 commands to start', timeoutMs: 30_000 });
    const [helper] = spawnHelpersOf(on.pid);
    assert.ok(helper !== undefined, 'the helper runs them');
    process.kill(helper, 'SIGKILL');
    const reports = await eventually(
      () => {
        const r = central
          .readErrorLog()
          .split('\n')
          .filter((l) => l.includes('the spawn helper stopped'));
        return r.length >= 12 && r;
      },
      { what: 'the 12 reports at central', timeoutMs: 30_000 },
    );
    assert.equal(reports.length, 12);
    for (const r of reports)
      assert.match(
        r,
        /node: on, error: REQCliCommand: the spawn helper stopped \(SIGKILL\) while the command ran: it may have run, its outcome is unknown; no reply is sent/,
      );
    assert.ok(on.running, 'the node is still up');

    const later = burst('on', 'after-kill', 5);
    assert.equal((await central.send(later.input)).filter((a) => a.status === 'accepted').length, 5);
    await eventually(() => lines(path.join(central.dataDir, 'helper', 'on', 'after-kill.txt')).length === 5, { what: 'the later replies' });
    // The commands cut off from their helper were not run again, by anyone.
    await new Promise((r) => setTimeout(r, 3500));
    assert.deepEqual(tally(lines(b.execLog), b.expected), { duplicates: [], missing: [], unexpected: [] });
    assert.equal(
      lines(path.join(central.dataDir, 'helper', 'on', 'killed.txt')).length,
      0,
      'no reply for a command whose outcome is unknown',
    );
  });

  it('a helper killed -9 with many commands still to start: only those it had been given are lost track of, the others run', async () => {
    const b = burst('on', 'held', 40, 'sleep 2; ');
    assert.equal((await central.send(b.input)).filter((a) => a.status === 'accepted').length, 40);
    await eventually(() => lines(b.execLog).length >= 1, { what: 'the first command to start', timeoutMs: 30_000, intervalMs: 5 });
    const [helper] = spawnHelpersOf(on.pid);
    assert.ok(helper !== undefined);
    const running = childrenOf(helper).length;
    process.kill(helper, 'SIGKILL');
    // Each command ends one of two ways: it ran and replied, or central has its lost-track line.
    const file = path.join(central.dataDir, 'helper', 'on', 'held.txt');
    const reported = (): number =>
      central
        .readErrorLog()
        .split('\n')
        .filter((l) => l.includes('the spawn helper stopped') && l.includes('held-')).length;
    await eventually(() => lines(file).length + reported() === 40, { what: 'every command accounted for', timeoutMs: 60_000 });
    // At most 8 spawn requests are out unanswered besides the commands running at the kill.
    assert.ok(reported() <= running + 8 + 2, `${reported()} lost track of, ${running} were running`);
    assert.ok(lines(file).length >= 40 - running - 10, 'the commands the helper had not been given ran');
    await new Promise((r) => setTimeout(r, 2500));
    assert.deepEqual(tally(lines(b.execLog), b.expected).duplicates, [], 'none ran twice');
  });

  it('a node killed -9 takes its helper with it', async () => {
    const b = burst('on', 'before-node-kill', 1);
    await central.send(b.input);
    await eventually(() => lines(b.execLog).length === 1, { what: 'the command to run' });
    const [helper] = spawnHelpersOf(on.pid);
    assert.ok(helper !== undefined && alive(helper));
    await on.kill9();
    await eventually(() => !alive(helper), { what: 'the helper to end after its node', timeoutMs: 10_000 });
  });
});
