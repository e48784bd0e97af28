import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { lines, settled, tally } from '../support/exactly-once.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { HANDOVER_AT_MOST } from '../../src/spawn/spawner.js';
import { alive, processesWith, spawnHelpersOf } from '../support/procs.js';
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
    // The commands cut off from their helper were not run again, by anyone: once none of them
    // runs any more (they outlive the helper), their exec log is final.
    await eventually(() => processesWith(b.execLog).length === 0, { what: 'the cut-off commands to end', timeoutMs: 30_000 });
    assert.deepEqual(tally(lines(b.execLog), b.expected), { duplicates: [], missing: [], unexpected: [] });
    assert.equal(
      lines(path.join(central.dataDir, 'helper', 'on', 'killed.txt')).length,
      0,
      'no reply for a command whose outcome is unknown',
    );
  });

  it('a helper killed -9 with many commands still to start: each ran once or was reported, and at most 8 were lost without running', async () => {
    const n = 40;
    const b = burst('on', 'held', n, 'sleep 2; ');
    assert.equal((await central.send(b.input)).filter((a) => a.status === 'accepted').length, n);
    await eventually(() => lines(b.execLog).length >= 1, { what: 'the first command to start', timeoutMs: 30_000, intervalMs: 5 });
    const [helper] = spawnHelpersOf(on.pid);
    assert.ok(helper !== undefined);
    process.kill(helper, 'SIGKILL');

    // Each command ends one of two ways: it ran (its line in the exec log), or central has the
    // line saying its outcome is unknown (or both: it may have run).
    const numberIn = (text: string, re: RegExp): number[] => [...text.matchAll(re)].map((m) => Number(m[1]));
    const ranNow = (): number[] => numberIn(lines(b.execLog).join('\n'), /^held-(\d+)$/gm);
    const replied = (): number[] => numberIn(central.readData('helper', 'on', 'held.txt'), /^reply-held-(\d+)$/gm);
    const reported = (): number[] =>
      central
        .readErrorLog()
        .split('\n')
        .filter((l) => /the spawn helper stopped|was interrupted/.test(l))
        .flatMap((l) => numberIn(l, /echo held-(\d+) >>/g));
    await eventually(() => new Set([...ranNow(), ...reported()]).size === n, {
      what: 'every command run or reported',
      timeoutMs: 60_000,
    });
    // Final: nothing left to send or run on either node, and no command of the burst still
    // running (commands outlive the helper).
    await eventually(() => settled(central, on) && processesWith(b.execLog).length === 0, {
      what: 'the burst to be over',
      timeoutMs: 60_000,
    });

    const ran = new Set(numberIn(lines(b.execLog).join('\n'), /^held-(\d+)$/gm));
    const lost = reported();
    const lostNeverRan = lost.filter((i) => !ran.has(i));
    console.log(
      `helper killed: ${replied().length} replied, ${lost.length} reported lost (${lost.length - lostNeverRan.length} of them ran, ${lostNeverRan.length} never ran)`,
    );
    assert.deepEqual(tally(lines(b.execLog), b.expected).duplicates, [], 'none ran twice');
    assert.deepEqual(tally(lines(b.execLog), b.expected).unexpected, [], 'the exec log holds only the commands sent');
    assert.deepEqual(tally(replied().map(String), []).duplicates, [], 'no reply came twice');
    assert.deepEqual(tally(lost.map(String), []).duplicates, [], 'no command was reported twice');
    assert.deepEqual(
      replied().filter((i) => lost.includes(i)),
      [],
      'a command reported lost sends no reply',
    );
    assert.deepEqual(
      replied().filter((i) => !ran.has(i)),
      [],
      'every command that replied ran',
    );
    assert.deepEqual(
      [...ran].filter((i) => !lost.includes(i) && !replied().includes(i)),
      [],
      'every command that ran and was not lost track of replied',
    );
    assert.deepEqual(
      b.expected.map((_, i) => i).filter((i) => !ran.has(i) && !lost.includes(i)),
      [],
      'every command that did not run was reported',
    );
    // Only the commands handed to the helper and not yet forked can be lost without running:
    // the ones still held by the node were forked after the kill.
    assert.ok(
      lostNeverRan.length <= HANDOVER_AT_MOST,
      `at most ${HANDOVER_AT_MOST} lost without running, got ${lostNeverRan.length}: ${lostNeverRan.join(', ')}`,
    );
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
