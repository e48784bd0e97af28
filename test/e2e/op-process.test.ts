import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { StewardProcess } from '../support/steward.js';

describe('REQOpProcessList / Start / Stop', () => {
  let fleet: Fleet;
  let central: StewardProcess;

  before(async () => {
    fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0'] });
    [central] = fleet.nodes as [StewardProcess, StewardProcess];
  });

  after(() => fleet?.close());

  /** Sends one message from central and returns its id. */
  const send = async (msg: Record<string, unknown>): Promise<string> => {
    const [answer] = await central.send(JSON.stringify(msg));
    assert.equal(answer?.status, 'accepted', JSON.stringify(answer));
    return answer?.id as string;
  };
  const op = (method: string, methodArgs: string[], fileName: string): Record<string, unknown> => ({
    toNode: 'ship1',
    method,
    methodArgs,
    replyMethod: 'REQToFileAppend',
    directory: 'op',
    fileName,
  });
  const result = (fileName: string): string => central.readData('op', 'ship1', fileName);
  /** The error line at central about message `id`. */
  const errorLine = (id: string): Promise<string> =>
    eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes(id)),
      { what: `the error line about ${id}` },
    );
  /** A command on ship1 runs and its output reaches central. */
  const commandRuns = async (word: string): Promise<void> => {
    await send({ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['echo', word], directory: 'cmd', fileName: `${word}.txt` });
    await eventually(() => central.readData('cmd', 'ship1', `${word}.txt`) === `${word}\n`, { what: `${word} from ship1` });
  };

  it("REQOpProcessList lists ship1's subscribers, sorted, in central's result file", async () => {
    await send(op('REQOpProcessList', [], 'list.txt'));
    const text = await eventually(() => result('list.txt'), { what: 'the list' });
    const lines = text.split('\n').filter(Boolean);
    for (const l of lines) assert.match(l, /^process: (subscriber|publisher), id: \d+, name: \S+$/);
    const subjects = lines.filter((l) => l.includes('process: subscriber')).map((l) => l.replace(/.*name: /, ''));
    assert.ok(subjects.includes('ship1.REQCliCommand.CommandACK'), text);
    assert.ok(subjects.includes('ship1.REQOpProcessList.CommandACK'), text);
    assert.ok(subjects.includes('ship1.REQToFileAppend.EventACK'), text);
    assert.deepEqual(subjects, [...subjects].sort());
    assert.ok(
      subjects.every((s) => s.startsWith('ship1.')),
      text,
    );
  });

  it('Stop REQCliCommand: a command ends with max retries; Start brings it back', async () => {
    await send(op('REQOpProcessList', [], 'ids.txt'));
    const listed = await eventually(() => result('ids.txt'), { what: 'the list' });
    const id = /id: (\d+), name: ship1\.REQCliCommand\.CommandACK/.exec(listed)?.[1];
    assert.ok(id !== undefined, listed);

    // The seed's form: [method, node, kind, id].
    await send(op('REQOpProcessStop', ['REQCliCommand', 'ship1', 'subscriber', id], 'stop.txt'));
    assert.match(
      await eventually(() => result('stop.txt'), { what: 'the stop reply' }),
      /^info: REQOpProcessStop: stopped process: subscriber, id: \d+, name: ship1\.REQCliCommand\.CommandACK on ship1\n$/,
    );

    const cmd = await send({
      toNode: 'ship1',
      method: 'REQCliCommand',
      methodArgs: ['echo', 'stopped'],
      ACKTimeout: 1,
      retries: 1,
      directory: 'cmd',
      fileName: 'stopped.txt',
    });
    assert.match(
      await errorLine(cmd),
      /method: REQCliCommand, .*attempts: 2, .*max retries reached, check if node is up and running and if it got a subscriber for the given REQ type/,
    );

    await send(op('REQOpProcessList', [], 'after-stop.txt'));
    assert.doesNotMatch(await eventually(() => result('after-stop.txt'), { what: 'the list' }), /REQCliCommand\.CommandACK/);

    await send(op('REQOpProcessStart', ['REQCliCommand'], 'start.txt'));
    assert.match(
      await eventually(() => result('start.txt'), { what: 'the start reply' }),
      /^info: REQOpProcessStart: started process: subscriber, id: \d+, name: ship1\.REQCliCommand\.CommandACK on ship1\n$/,
    );
    await commandRuns('restarted');

    // A second start is not a duplicate subscriber.
    await send(op('REQOpProcessStart', ['REQCliCommand'], 'start2.txt'));
    assert.match(
      await eventually(() => result('start2.txt'), { what: 'the second start reply' }),
      /^info: REQOpProcessStart: already running process: subscriber/,
    );
    await send(op('REQOpProcessList', [], 'after-start.txt'));
    const after = await eventually(() => result('after-start.txt'), { what: 'the list' });
    assert.equal(after.split('\n').filter((l) => l.endsWith('name: ship1.REQCliCommand.CommandACK')).length, 1, after);
  });

  it('bad arguments are error lines at central and replies, and ship1 keeps working', async () => {
    const cases: { method: string; args: string[]; expect: RegExp }[] = [
      {
        method: 'REQOpProcessStop',
        args: [],
        expect: /error: REQOpProcessStop: methodArgs must be \[method\] or \[method, node, kind, id\]/,
      },
      { method: 'REQOpProcessStart', args: [], expect: /error: REQOpProcessStart: methodArgs must be \[method\]/ },
      {
        method: 'REQOpProcessStart',
        args: ['REQCliComand'],
        expect: /error: REQOpProcessStart: unknown method "REQCliComand" \(did you mean "REQCliCommand"\?\)/,
      },
      {
        method: 'REQOpProcessStop',
        args: ['REQHttpGt'],
        expect: /error: REQOpProcessStop: unknown method "REQHttpGt" \(did you mean "REQHttpGet"\?\)/,
      },
      {
        method: 'REQOpProcessStop',
        args: ['REQHttpGet', 'ship2', 'subscriber', '1'],
        expect: /error: REQOpProcessStop: node "ship2" is not this node \(ship1\)/,
      },
      {
        method: 'REQOpProcessStop',
        args: ['REQHttpGet', 'ship1', 'publisher', '1'],
        expect: /error: REQOpProcessStop: only a subscriber can be stopped/,
      },
      {
        method: 'REQOpProcessStop',
        args: ['REQHttpGet', 'ship1', 'subscriber', '99999'],
        expect: /error: REQOpProcessStop: the subscriber for REQHttpGet has id \d+, not "99999"/,
      },
      { method: 'REQOpProcessStop', args: ['REQOpProcessStart'], expect: /error: REQOpProcessStop: REQOpProcessStart cannot be stopped/ },
    ];
    for (const [i, c] of cases.entries()) {
      const id = await send(op(c.method, c.args, `bad-${i}.txt`));
      assert.match(await errorLine(id), c.expect);
      assert.match(await eventually(() => result(`bad-${i}.txt`), { what: `the error reply ${i}` }), c.expect);
    }
    // Stopping a subscriber that is not running: stop it once, then again.
    await send(op('REQOpProcessStop', ['REQHttpGet'], 'http-stop.txt'));
    await eventually(() => result('http-stop.txt'), { what: 'the first stop' });
    const again = await send(op('REQOpProcessStop', ['REQHttpGet'], 'http-stop-again.txt'));
    assert.match(await errorLine(again), /error: REQOpProcessStop: no subscriber for REQHttpGet is running on ship1/);

    await send(op('REQOpProcessList', [], 'still.txt'));
    assert.match(await eventually(() => result('still.txt'), { what: 'the list' }), /name: ship1\.REQOpProcessStop\.CommandACK/);
    await commandRuns('still-working');
  });
});
