import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { replyId } from '../../src/message/id.js';
import { inboxState, outboxRow, settled } from '../support/exactly-once.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { processesWith } from '../support/procs.js';
import type { StewardProcess } from '../support/steward.js';

// Commands are forked by the node itself (auto, one at a time) and by the spawn helper (on).
for (const spawnHelper of ['auto', 'on'] as const)
  describe(`the reply and file methods (-spawnHelper=${spawnHelper})`, () => {
    let fleet: Fleet;
    let central: StewardProcess;
    let ship1: StewardProcess;

    before(async () => {
      fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0', `-spawnHelper=${spawnHelper}`] });
      [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
    });

    after(() => fleet?.close());

    it('REQToFile replaces the result file each time, REQToFileAppend appends', async () => {
      for (const word of ['first', 'second']) {
        await central.send(
          JSON.stringify({
            toNode: 'ship1',
            method: 'REQCliCommand',
            methodArgs: ['echo', word],
            replyMethod: 'REQToFile',
            directory: 'tofile',
            fileName: 'out.txt',
          }),
        );
        await eventually(() => central.readData('tofile', 'ship1', 'out.txt') === `${word}\n`, { what: `${word} in the file` });
      }
      await central.send(
        JSON.stringify([
          { toNode: 'ship1', method: 'REQToFileAppend', data: ['a\n'], directory: 'direct', fileName: 'log.txt' },
          { toNode: 'ship1', method: 'REQToFileAppend', data: ['b\n'], directory: 'direct', fileName: 'log.txt' },
        ]),
      );
      // Sent directly, the file is written on the target, in the folder of the node that ran it.
      const got = await eventually(
        () => ship1.readData('direct', 'ship1', 'log.txt').length === 4 && ship1.readData('direct', 'ship1', 'log.txt'),
      );
      assert.deepEqual(got.split('\n').filter(Boolean).sort(), ['a', 'b']);
    });

    it("REQToConsole prints the reply on the sending daemon's stdout", async () => {
      await central.send(
        JSON.stringify({ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['echo', 'to-the-console'], replyMethod: 'REQToConsole' }),
      );
      await eventually(() => central.stdout.includes('to-the-console\n'), { what: 'the console line' });
      assert.equal(central.stdout.includes('"level"'), false, 'logs stay on stderr');
    });

    it('REQPing with replyMethod REQPong records both ends', async () => {
      await central.send(
        JSON.stringify({ toNode: 'ship1', method: 'REQPing', replyMethod: 'REQPong', directory: 'ping', fileName: 'ping.log' }),
      );
      const pong = await eventually(() => central.readData('ping', 'ship1', 'ping.log'), { what: 'the pong file on central' });
      assert.match(pong, /pong received from ship1/);
      assert.match(ship1.readData('ping', 'ship1', 'ping.log'), /ping received from central/);
    });

    it('replyMethod REQNone runs the command and sends nothing back', async () => {
      const marker = path.join(ship1.dir, 'none.txt');
      const [answer] = await central.send(
        JSON.stringify({
          toNode: 'ship1',
          method: 'REQCliCommand',
          methodArgs: ['bash', '-c', `echo ran > ${marker}; echo output`],
          replyMethod: 'REQNone',
          directory: 'none',
          fileName: 'out.txt',
        }),
      );
      await eventually(() => fs.existsSync(marker), { what: 'the command to run' });
      const id = answer?.id as string;
      // Its run is over (a reply would be in ship1's outbox by now), and a later command's reply,
      // sent after it, came through: whatever ship1 had to send central has been sent.
      await eventually(() => inboxState(ship1, id) === 'done', { what: 'the run to be over' });
      await central.send(
        JSON.stringify({
          toNode: 'ship1',
          method: 'REQCliCommand',
          methodArgs: ['echo', 'after'],
          directory: 'none-after',
          fileName: 'out.txt',
        }),
      );
      await eventually(() => central.readData('none-after', 'ship1', 'out.txt') === 'after\n', { what: 'the later reply' });
      await eventually(() => settled(central, ship1), { what: 'both nodes settled' });
      assert.equal(outboxRow(ship1, replyId(id)), undefined, 'ship1 made no reply');
      assert.equal(fs.existsSync(path.join(central.dataDir, 'none')), false, 'no result file at central');
    });

    it("takes the seed's REQHello example from the socket: central logs a hello from the sender", async () => {
      // Hellos are off in this fleet (-startPubREQHello=0): the line can only come from this message.
      assert.equal(central.readData('hello-messages', 'ship1', 'hello.log'), '');
      const [answer] = await ship1.send('[\n{\n"toNode": "central",\n"method":"REQHello"\n}\n]');
      assert.equal(answer?.status, 'accepted');
      assert.equal(answer?.subject, 'central.REQHello.EventNACK');
      const log = await eventually(() => central.readData('hello-messages', 'ship1', 'hello.log'), { what: 'the hello line from ship1' });
      assert.match(log, /^\S+, Received hello from "ship1"\n$/);
    });

    it('bad arguments and unwritable result files give an error line at central; the node keeps working', async () => {
      // A folder where the result file should be: the write fails on ship1 (messages sent directly run there).
      fs.mkdirSync(path.join(ship1.dataDir, 'badfile', 'ship1', 'is-a-folder.txt'), { recursive: true });
      fs.mkdirSync(path.join(ship1.dataDir, 'badappend', 'ship1', 'is-a-folder.txt'), { recursive: true });
      const answers = await central.send(
        JSON.stringify([
          { toNode: 'ship1', method: 'REQCliCommand', methodArgs: [], directory: 'bad', fileName: 'a.txt' },
          { toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['/nonexistent/steward-cmd', '-x'], directory: 'bad', fileName: 'b.txt' },
          { toNode: 'ship1', method: 'REQToFile', data: ['x'], directory: 'badfile', fileName: 'is-a-folder.txt' },
          { toNode: 'ship1', method: 'REQToFileAppend', data: ['y'], directory: 'badappend', fileName: 'is-a-folder.txt' },
        ]),
      );
      assert.deepEqual(
        answers.map((a) => a.status),
        ['accepted', 'accepted', 'accepted', 'accepted'],
      );
      const log = await eventually(
        () => {
          const l = central.readErrorLog();
          return (
            /REQCliCommand: methodArgs is empty: give the command/.test(l) &&
            /REQCliCommand: cannot run "\/nonexistent\/steward-cmd": .*ENOENT/.test(l) &&
            /REQToFile failed on ship1: .*EISDIR/.test(l) &&
            /REQToFileAppend failed on ship1: .*EISDIR/.test(l) &&
            l
          );
        },
        { what: 'four error lines', timeoutMs: 30_000 },
      );
      assert.match(log, /node: ship1, error: REQCliCommand: methodArgs is empty/);
      assert.deepEqual(fs.readdirSync(path.join(ship1.dataDir, 'badfile', 'ship1', 'is-a-folder.txt')), [], 'the folder is left as it was');
      await central.send(
        JSON.stringify({
          toNode: 'ship1',
          method: 'REQCliCommand',
          methodArgs: ['echo', 'still here'],
          directory: 'bad',
          fileName: 'ok.txt',
        }),
      );
      await eventually(() => central.readData('bad', 'ship1', 'ok.txt') === 'still here\n', { what: 'a command after the bad ones' });
    });

    it('replies to commands land in the order the commands were sent, even when later ones finish first', async () => {
      // Command n sleeps longer the earlier it was sent: they finish in reverse order.
      const n = 40;
      const msgs = Array.from({ length: n }, (_, i) => ({
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['bash', '-c', `sleep ${((n - i) * 0.02).toFixed(2)}; echo reply-${i}`],
        directory: 'order',
        fileName: 'out.txt',
      }));
      const answers = await central.send(JSON.stringify(msgs));
      assert.equal(answers.filter((a) => a.status === 'accepted').length, n);
      const read = (): string[] => central.readData('order', 'ship1', 'out.txt').split('\n').filter(Boolean);
      const got = await eventually(() => read().length === n && read(), { what: `${n} replies`, timeoutMs: 30_000 });
      assert.deepEqual(
        got,
        Array.from({ length: n }, (_, i) => `reply-${i}`),
      );
    });

    it('kills the whole process group at methodTimeout and reports it', async () => {
      const child = path.join(ship1.dir, 'child-alive.txt');
      await central.send(
        JSON.stringify({
          toNode: 'ship1',
          method: 'REQCliCommand',
          methodTimeout: 1,
          directory: 'timeout',
          fileName: 'out.txt',
          methodArgs: ['bash', '-c', `echo before; (sleep 3; echo survived > ${child}) & sleep 30`],
        }),
      );
      assert.equal(await eventually(() => central.readData('timeout', 'ship1', 'out.txt'), { what: 'the partial output' }), 'before\n');
      assert.match(
        await eventually(() => central.readErrorLog().includes('timed out') && central.readErrorLog()),
        /node: ship1, error: REQCliCommand: method timed out after 1 s and was killed/,
      );
      // Once no process of the command's shell is left, nothing can write the file any more.
      await eventually(() => processesWith(child).length === 0, { what: 'every process of the command to end' });
      assert.equal(fs.existsSync(child), false, 'the background child was killed with the group');
    });

    it('cuts output larger than the broker allows to what a reply can carry, with an error line at central', async () => {
      // 3 MB of output; the broker takes 1 MiB per message: the reply carries the first 1 MiB less 16 KiB.
      await central.send(
        JSON.stringify({
          toNode: 'ship1',
          method: 'REQCliCommand',
          directory: 'big',
          fileName: 'out.txt',
          methodTimeout: 30,
          methodArgs: ['bash', '-c', "head -c 3000000 /dev/zero | tr '\\0' a; echo tail-never-sent"],
        }),
      );
      const kept = 1024 * 1024 - 16 * 1024;
      const out = await eventually(() => central.readData('big', 'ship1', 'out.txt'), { what: 'the cut output', timeoutMs: 30_000 });
      assert.equal(out.length, kept);
      assert.match(out, /^a+$/);
      assert.match(
        await eventually(() => central.readErrorLog().includes('max payload') && central.readErrorLog()),
        new RegExp(`node: ship1, error: REQCliCommand: output larger than the broker's max payload, only the first ${kept} bytes are sent`),
      );
    });

    it('ran its commands the way -spawnHelper says', () => {
      if (spawnHelper === 'on') assert.match(ship1.stderr, /spawn helper started/);
      assert.doesNotMatch(ship1.stderr, /spawn helper could not start|spawn helper stopped/);
    });
  });
