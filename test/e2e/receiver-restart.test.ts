import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { eventually } from '../support/eventually.js';
import { assertRanAndRepliedOnce, countedCommands, lines, outboxRow, settled } from '../support/exactly-once.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { StewardProcess } from '../support/steward.js';

describe('a receiving node that dies and comes back', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;

  before(async () => {
    fleet = await startFleet(['central', 'ship1'], { flagsFor: { central: ['-startPubREQHello=0'], ship1: ['-startPubREQHello=1'] } });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
  });

  after(() => fleet?.close());

  it('reports a command that was running when it was killed as interrupted, and does not run it again', async () => {
    const started = path.join(ship1.dir, 'started.log');
    const answer = await central.send(
      JSON.stringify({
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['bash', '-c', `echo run >> ${started}; sleep 30; echo finished`],
        methodTimeout: 60,
        directory: 'long',
        fileName: 'out.txt',
      }),
    );
    const id = answer[0]?.id as string;
    await eventually(() => lines(started).length === 1, { what: 'the command to start' });
    await ship1.kill9();
    await ship1.start();
    const log = await eventually(() => central.readErrorLog().includes(`was interrupted`) && central.readErrorLog(), {
      what: 'the interrupted line',
    });
    assert.match(
      log,
      new RegExp(
        `node: ship1, error: REQCliCommand ${id} from central was interrupted by a restart of ship1 \\(it was running, or about to start\\); it is not run again`,
      ),
    );
    // Once neither node has anything left to send or run, a wrong re-run would have happened.
    await eventually(() => settled(central, ship1), { what: 'both nodes settled' });
    assert.deepEqual(lines(started), ['run']);
    assert.equal(central.readData('long', 'ship1', 'out.txt'), '');
  });

  it('runs messages that were received but not started before the crash', async () => {
    // Fill ship1's 64 execution slots with slow commands, queue more behind them, kill it.
    const ran = path.join(ship1.dir, 'queued.log');
    const msgs = Array.from({ length: 80 }, (_, i) => ({
      toNode: 'ship1',
      method: 'REQCliCommand',
      methodArgs: ['bash', '-c', i < 64 ? 'sleep 20' : `echo q${i} >> ${ran}`],
      methodTimeout: 60,
      replyMethod: 'REQNone',
    }));
    const answers = await central.send(JSON.stringify(msgs));
    assert.equal(answers.filter((a) => a.status === 'accepted').length, 80);
    const db = path.join(ship1.dir, 'var', 'lib', 'steward.db');
    await eventually(
      () => {
        const d = new DatabaseSync(db, { readOnly: true });
        try {
          return (
            (d.prepare("SELECT count(*) AS n FROM inbox WHERE state = 'received' AND method = 'REQCliCommand'").get() as { n: number })
              .n === 16
          );
        } finally {
          d.close();
        }
      },
      { what: '16 commands waiting for a slot' },
    );
    await ship1.kill9();
    await ship1.start();
    const got = await eventually(() => lines(ran).length === 16 && lines(ran), { what: 'the 16 queued commands to run after the restart' });
    assert.deepEqual(got.slice().sort(), Array.from({ length: 16 }, (_, i) => `q${64 + i}`).sort());
  });
});

describe('a receiving node stopped cleanly (SIGTERM) while commands run', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;

  before(async () => {
    fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0'] });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
  });

  after(() => fleet?.close());

  it('lets running commands finish: each ran and replied once, none is reported interrupted', async () => {
    const n = 200;
    const executions = path.join(ship1.dir, 'executions.log');
    const results = path.join(central.dataDir, 'results', 'ship1', 'out.txt');
    await central.send(
      JSON.stringify(countedCommands('ship1', n, executions, { ACKTimeout: 5, retries: -1, replyRetries: -1, methodTimeout: 60 })),
    );
    await eventually(() => lines(executions).length >= 20, { intervalMs: 5, what: 'the first commands to run' });
    await ship1.stop();
    await ship1.start();
    await eventually(() => lines(results).length === n, { timeoutMs: 60_000, what: 'every reply' });
    assertRanAndRepliedOnce(executions, results, n);
    assert.equal(central.readErrorLog().includes('was interrupted'), false, central.readErrorLog());
  });

  it('aborts a command still running after the grace time; the restart reports it interrupted', async () => {
    const started = path.join(ship1.dir, 'long-started.log');
    const [answer] = await central.send(
      JSON.stringify({
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['bash', '-c', `echo run >> ${started}; sleep 30; echo finished`],
        methodTimeout: 60,
        directory: 'long',
        fileName: 'grace.txt',
      }),
    );
    await eventually(() => lines(started).length === 1, { what: 'the command to start' });
    await ship1.stop();
    await ship1.start();
    const line = await eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes(`REQCliCommand ${answer?.id as string} from central was interrupted`)),
      {
        what: 'the interrupted line',
      },
    );
    assert.match(line, /it is not run again/);
    await eventually(() => settled(central, ship1), { what: 'both nodes settled' });
    assert.equal(lines(started).length, 1, 'not run again');
    assert.equal(central.readData('long', 'ship1', 'grace.txt'), '');
  });
});

describe('hearing from a node', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;

  before(async () => {
    fleet = await startFleet(['central', 'ship1'], { flagsFor: { central: ['-startPubREQHello=0'], ship1: ['-startPubREQHello=1'] } });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
    await ship1.stop();
  });

  after(() => fleet?.close());

  it('sends its waiting messages at once instead of waiting out the ACK timeout', async () => {
    const [answer] = await central.send(
      JSON.stringify({
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['echo', 'woken'],
        ACKTimeout: 120,
        retries: 3,
        directory: 'wake',
        fileName: 'out.txt',
      }),
    );
    // The first attempt found nobody; the next one is due in 120 s. ship1 comes back and says hello.
    const id = answer?.id as string;
    const first = await eventually(
      () => {
        const row = outboxRow(central, id);
        return row !== undefined && row.attempts >= 1 && row;
      },
      { what: 'the first attempt to find nobody' },
    );
    assert.deepEqual(first, { state: 'pending', attempts: 1, lastError: 'no subscriber for ship1.REQCliCommand.CommandACK' });
    await ship1.start();
    // Well inside the 120 s: only the hello can have triggered the second attempt.
    const out = await eventually(() => central.readData('wake', 'ship1', 'out.txt'), { what: 'the reply', timeoutMs: 30_000 });
    assert.equal(out, 'woken\n');
  });
});
