import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { eventually } from '../support/eventually.js';
import { lines, outboxRow, settled } from '../support/exactly-once.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { StewardProcess } from '../support/steward.js';

describe('a node that is offline when the command is sent', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;

  before(async () => {
    fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0'] });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
    await ship1.stop();
  });

  after(() => fleet?.close());

  it('runs the command exactly once when the node comes back within its retries', async () => {
    const runs = path.join(ship1.dir, 'runs.log');
    const answer = await central.send(
      JSON.stringify([
        {
          toNode: 'ship1',
          method: 'REQCliCommand',
          methodArgs: ['bash', '-c', `echo ran >> ${runs}; echo done`],
          ACKTimeout: 1,
          retries: 20,
          directory: 'offline',
          fileName: 'out.txt',
        },
      ]),
    );
    assert.equal(answer[0]?.status, 'accepted');
    const id = answer[0]?.id as string;
    // Central tries while ship1 is down: two attempts found nobody, and the message still waits.
    const waiting = await eventually(
      () => {
        const row = outboxRow(central, id);
        return row !== undefined && row.attempts >= 2 && row;
      },
      { what: 'two attempts while ship1 is down', timeoutMs: 30_000 },
    );
    assert.equal(waiting.state, 'pending', 'not delivered, not given up');
    assert.equal(waiting.lastError, 'no subscriber for ship1.REQCliCommand.CommandACK');
    await ship1.start();
    assert.equal(await eventually(() => central.readData('offline', 'ship1', 'out.txt'), { what: 'the reply' }), 'done\n');
    // Once neither node has anything left to send or run, no late re-send can add a run.
    await eventually(() => settled(central, ship1), { what: 'both nodes settled', timeoutMs: 30_000 });
    assert.deepEqual(lines(runs), ['ran']);
    assert.equal(central.readData('offline', 'ship1', 'out.txt'), 'done\n');
    assert.equal(outboxRow(central, id)?.state, 'delivered');
    await ship1.stop();
  });

  it('writes the max-retries line to the central error log when the budget is spent', async () => {
    const answer = await central.send(
      JSON.stringify({ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['echo', 'never'], ACKTimeout: 1, retries: 1 }),
    );
    const id = answer[0]?.id as string;
    const log = await eventually(() => central.readErrorLog().includes(id) && central.readErrorLog(), { what: 'the max-retries line' });
    const line = log.split('\n').find((l) => l.includes(id)) as string;
    assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z, node: central, info: toNode: ship1, fromNode: central, method: REQCliCommand, id: /);
    assert.match(
      line,
      /attempts: 2, .*max retries reached, check if node is up and running and if it got a subscriber for the given REQ type$/,
    );
    const audit = fs.readFileSync(path.join(central.dir, 'var', 'lib', 'audit.log'), 'utf8');
    const entry = audit
      .split('\n')
      .filter((l) => l.includes(id))
      .map((l) => JSON.parse(l) as { outcome: string; attempts: number })[0];
    assert.equal(entry?.outcome, 'failed');
    assert.equal(entry?.attempts, 2);
  });

  it('keeps delivering to a live node while 200 messages wait for a dead one', async () => {
    const ship2 = await StewardProcess.start({
      name: 'ship2',
      central: 'central',
      brokerUrl: `127.0.0.1:${fleet.nats.port}`,
      flags: ['-startPubREQHello=0'],
    });
    try {
      const dead = Array.from({ length: 200 }, (_, i) => ({
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['echo', `dead-${i}`],
        ACKTimeout: 30,
        retries: 5,
      }));
      const answers = await central.send(JSON.stringify(dead));
      assert.equal(answers.filter((a) => a.status === 'accepted').length, 200);
      await central.send(
        JSON.stringify({ toNode: 'ship2', method: 'REQCliCommand', methodArgs: ['echo', 'alive'], directory: 'hol', fileName: 'out.txt' }),
      );
      assert.equal(await eventually(() => central.readData('hol', 'ship2', 'out.txt'), { what: 'the live node reply' }), 'alive\n');
      // Each dead message has 6 attempts of 30 s: the live reply came while every one of them
      // was still waiting in central's outbox, so it did not wait behind them.
      const db = new DatabaseSync(path.join(central.dir, 'var', 'lib', 'steward.db'), { readOnly: true });
      try {
        const row = db.prepare("SELECT count(*) AS n FROM outbox WHERE to_node = 'ship1' AND state = 'pending'").get() as { n: number };
        assert.equal(row.n, 200);
      } finally {
        db.close();
      }
    } finally {
      await ship2.stop();
      ship2.cleanup();
    }
  });
});
