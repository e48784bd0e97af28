import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import {
  assertRanAndRepliedOnce,
  countedCommands,
  failedRows,
  interruptedRows,
  lines,
  settled,
  storeBacklog,
} from '../support/exactly-once.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { StewardProcess } from '../support/steward.js';

const COMMANDS = 500;

describe('a crash of the central node while commands are in flight', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;

  before(async () => {
    // A window of 100 in flight keeps most commands in central's outbox for a while, so the
    // crash catches commands never sent and commands sent but not ACKed, as well as replies.
    fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0'], flagsFor: { central: ['-ringBufferSize=100'] } });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
  });

  after(() => fleet?.close());

  it('kill -9 of central while 500 commands are in flight, then restart: every command ran on ship1 exactly once and every reply arrived exactly once', async () => {
    const executions = path.join(ship1.dir, 'executions.log');
    const resultFile = path.join(central.dataDir, 'results', 'ship1', 'out.txt');
    const messages = countedCommands('ship1', COMMANDS, executions, {
      ACKTimeout: 5,
      retries: -1,
      replyACKTimeout: 3,
      replyRetries: -1,
      methodTimeout: 120,
    });

    // One socket write with all 500: each one is committed to central's outbox before it is accepted.
    const answers = await central.send(JSON.stringify(messages));
    assert.equal(answers.length, COMMANDS);
    assert.deepEqual(
      answers.filter((a) => a.status !== 'accepted'),
      [],
      'every command is accepted',
    );
    assert.equal(new Set(answers.map((a) => a.id)).size, COMMANDS, 'every command has its own id');

    // Crash central as soon as the first replies land, well before all of them.
    await eventually(() => lines(resultFile).length > 0, { what: 'the first reply on central', timeoutMs: 30_000, intervalMs: 20 });
    await central.kill9();
    const repliesAtCrash = lines(resultFile).length;
    const centralAtCrash = storeBacklog(central);
    assert.ok(
      repliesAtCrash < COMMANDS,
      `the crash came while replies were in flight (${repliesAtCrash} of ${COMMANDS} had arrived, central's outbox held ${centralAtCrash.pending})`,
    );

    // Restart central in the same folder: same store, same data folder.
    await central.start();

    await eventually(() => lines(resultFile).length >= COMMANDS, {
      what: `${COMMANDS} reply lines on central`,
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    // Nothing is left to deliver or run on either node, so no late duplicate can still come.
    await eventually(() => settled(central, ship1), {
      what: 'both stores to have nothing left to deliver or run',
      timeoutMs: 30_000,
      intervalMs: 200,
    });

    assertRanAndRepliedOnce(executions, resultFile, COMMANDS);

    // ship1 never crashed, so nothing may be reported interrupted; nothing may be given up.
    assert.equal(interruptedRows(ship1), 0, 'no command is marked interrupted on ship1');
    assert.doesNotMatch(central.readErrorLog(), /interrupted/);
    assert.deepEqual(failedRows(central), [], 'central gave up on no message');
    assert.deepEqual(failedRows(ship1), [], 'ship1 gave up on no message');
    assert.equal(central.readErrorLog(), '', 'no error was reported to central');
  });
});
