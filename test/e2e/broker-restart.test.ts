import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, sleep } from '../support/eventually.js';
import { assertRanAndRepliedOnce, countedCommands, failedRows, interruptedRows, lines, settled } from '../support/exactly-once.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { NatsServer } from '../support/nats-server.js';
import type { StewardProcess } from '../support/steward.js';

const COMMANDS = 300;
const OUTAGE_MS = 5_000;

describe('a broker outage during a burst', () => {
  let fleet: Fleet;
  let nats: NatsServer;
  let central: StewardProcess;
  let ship1: StewardProcess;

  before(async () => {
    // A window of 50 in flight keeps commands in central's outbox when the broker goes away.
    fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0'], flagsFor: { central: ['-ringBufferSize=50'] } });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
    nats = fleet.nats;
  });

  after(() => fleet?.close());

  it('The broker stopped for 5 s during a burst and restarted on the same port: all delivered once', async () => {
    const executions = path.join(ship1.dir, 'executions.log');
    const resultFile = path.join(central.dataDir, 'results', 'ship1', 'out.txt');
    const port = nats.port;
    const messages = countedCommands('ship1', COMMANDS, executions, {
      ACKTimeout: 3,
      retries: -1,
      replyACKTimeout: 3,
      replyRetries: -1,
      methodTimeout: 120,
    });

    const answers = await central.send(JSON.stringify(messages));
    assert.equal(answers.length, COMMANDS);
    assert.deepEqual(
      answers.filter((a) => a.status !== 'accepted'),
      [],
      'every command is accepted',
    );

    // Stop the broker as soon as the first replies land, with most of the burst still to go.
    await eventually(() => lines(resultFile).length > 0, { what: 'the first reply on central', timeoutMs: 30_000, intervalMs: 20 });
    await nats.stop();
    const repliesAtStop = lines(resultFile).length;
    assert.ok(
      repliesAtStop < COMMANDS,
      `the broker stopped while the burst was in flight (${repliesAtStop} of ${COMMANDS} replies had arrived)`,
    );

    await sleep(OUTAGE_MS); // the outage itself, not a wait for a result
    assert.ok(central.running && ship1.running, 'both nodes keep running while the broker is away');
    await nats.restart();
    assert.equal(nats.port, port, 'the broker is back on the same port');

    await eventually(() => lines(resultFile).length >= COMMANDS, {
      what: `${COMMANDS} reply lines on central`,
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    await eventually(() => settled(central, ship1), {
      what: 'both stores to have nothing left to deliver or run',
      timeoutMs: 30_000,
      intervalMs: 200,
    });

    // Both nodes really lost the broker and came back through a reconnect.
    for (const n of [central, ship1]) {
      assert.match(n.stderr, /disconnected from the broker/, `${n.opts.name} saw the broker go away`);
      assert.match(n.stderr, /reconnected to the broker/, `${n.opts.name} reconnected`);
    }

    assertRanAndRepliedOnce(executions, resultFile, COMMANDS);

    assert.equal(interruptedRows(ship1), 0, 'no command is marked interrupted on ship1');
    assert.deepEqual(failedRows(central), [], 'central gave up on no message');
    assert.deepEqual(failedRows(ship1), [], 'ship1 gave up on no message');
    assert.equal(central.readErrorLog(), '', 'no error was reported to central');
  });
});
