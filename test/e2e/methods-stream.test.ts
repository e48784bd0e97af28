import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, sleep } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { StewardProcess } from '../support/steward.js';

// Commands are forked by the node itself (auto, one at a time) and by the spawn helper (on).
for (const spawnHelper of ['auto', 'on'] as const)
  describe(`the streaming methods and {{STEWARD_DATA}} (-spawnHelper=${spawnHelper})`, () => {
    let fleet: Fleet;
    let central: StewardProcess;
    let ship1: StewardProcess;

    before(async () => {
      fleet = await startFleet(['central', 'ship1'], { flags: ['-startPubREQHello=0', `-spawnHelper=${spawnHelper}`] });
      [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
    });

    after(() => fleet?.close());

    const accepted = async (input: object): Promise<void> => {
      const lines = await central.send(JSON.stringify(input));
      assert.equal(lines[0]?.status, 'accepted', JSON.stringify(lines));
    };

    it('REQCliCommandCont streams stdout and stderr in order and reports the end', async () => {
      await accepted({
        toNode: 'ship1',
        method: 'REQCliCommandCont',
        directory: 'cont',
        fileName: 'lines.txt',
        methodTimeout: 20,
        methodArgs: ['bash', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done; echo err >&2'],
      });
      const got = await eventually(
        () => central.readData('cont', 'ship1', 'lines.txt').includes('ended') && central.readData('cont', 'ship1', 'lines.txt'),
        {
          what: 'the end line in the result file',
        },
      );
      assert.equal(got, 'line1\nline2\nline3\n[stderr] err\n[steward] REQCliCommandCont ended: command exited with code 0\n');
    });

    it('REQCliCommandCont sends lines while the command still runs', async () => {
      const gate = path.join(ship1.dir, 'cont-gate');
      await accepted({
        toNode: 'ship1',
        method: 'REQCliCommandCont',
        directory: 'cont',
        fileName: 'live.txt',
        methodTimeout: 30,
        methodArgs: ['bash', '-c', `echo first; while [ ! -e ${gate} ]; do sleep 0.1; done; echo second`],
      });
      // The command cannot end before the gate exists: "first" must arrive on its own.
      assert.equal(await eventually(() => central.readData('cont', 'ship1', 'live.txt'), { what: 'the first line' }), 'first\n');
      fs.writeFileSync(gate, '');
      await eventually(() => central.readData('cont', 'ship1', 'live.txt').endsWith('code 0\n'), { what: 'the end line' });
      assert.equal(
        central.readData('cont', 'ship1', 'live.txt'),
        'first\nsecond\n[steward] REQCliCommandCont ended: command exited with code 0\n',
      );
    });

    it('REQCliCommandCont kills the process group at methodTimeout and reports it', async () => {
      const child = path.join(ship1.dir, 'cont-child-alive.txt');
      await accepted({
        toNode: 'ship1',
        method: 'REQCliCommandCont',
        directory: 'cont',
        fileName: 'timeout.txt',
        methodTimeout: 1,
        methodArgs: ['bash', '-c', `echo before; (sleep 3; echo survived > ${child}) & sleep 30`],
      });
      const got = await eventually(
        () => central.readData('cont', 'ship1', 'timeout.txt').includes('ended') && central.readData('cont', 'ship1', 'timeout.txt'),
        {
          what: 'the end line',
        },
      );
      assert.equal(got, 'before\n[steward] REQCliCommandCont ended: method timed out after 1 s and was killed\n');
      await eventually(() => central.readErrorLog().includes('REQCliCommandCont: method timed out after 1 s'), {
        what: 'the timeout in the error log',
      });
      await sleep(3500);
      assert.equal(fs.existsSync(child), false, 'the background child was killed with the group');
    });

    it('REQCliCommandCont reports a non-zero exit, and runs without a limit at methodTimeout -1', async () => {
      await accepted({
        toNode: 'ship1',
        method: 'REQCliCommandCont',
        directory: 'cont',
        fileName: 'fail.txt',
        methodTimeout: -1,
        methodArgs: ['bash', '-c', 'sleep 1; echo out; echo oops >&2; exit 3'],
      });
      const got = await eventually(
        () => central.readData('cont', 'ship1', 'fail.txt').includes('ended') && central.readData('cont', 'ship1', 'fail.txt'),
        {
          what: 'the end line',
        },
      );
      assert.equal(got, 'out\n[stderr] oops\n[steward] REQCliCommandCont ended: command exited with code 3\n');
      assert.match(
        await eventually(() => central.readErrorLog().includes('code 3') && central.readErrorLog()),
        /node: ship1, error: REQCliCommandCont: command exited with code 3, methodArgs: .*error_output: oops/,
      );
    });

    it('REQTailFile follows appends, truncation and rotation, and stops at methodTimeout', async () => {
      const file = path.join(ship1.dir, 'app.log');
      fs.writeFileSync(file, 'old line, before the tail\n');
      await accepted({
        toNode: 'ship1',
        method: 'REQTailFile',
        methodArgs: [file],
        directory: 'tail',
        fileName: 'app.txt',
        methodTimeout: 8,
      });
      const read = (): string => central.readData('tail', 'ship1', 'app.txt');
      // The tail starts when ship1 runs the message: keep appending until one line comes through.
      let n = 0;
      await eventually(
        () => {
          fs.appendFileSync(file, `probe${n++}\n`);
          return read().includes('probe');
        },
        { intervalMs: 300, what: 'an appended line' },
      );
      fs.appendFileSync(file, 'appended\n');
      await eventually(() => read().includes('appended\n'), { what: 'the appended line' });
      fs.truncateSync(file, 0);
      fs.appendFileSync(file, 'after truncation\n');
      await eventually(() => read().includes('after truncation\n'), { what: 'the line written after truncation' });
      fs.renameSync(file, `${file}.1`);
      fs.writeFileSync(file, 'in the new file\n');
      await eventually(() => read().includes('in the new file\n'), { what: 'the line of the rotated-in file' });
      const end = await eventually(() => read().includes('[steward]') && read(), { what: 'the stop line' });
      assert.match(end, /\[steward\] REQTailFile ".*app\.log" methodTimeout of 8 s reached\n$/);
      assert.equal(end.includes('old line'), false, 'the tail starts at the end of the file');
      const lines = end.split('\n');
      assert.ok(
        lines.indexOf('appended') < lines.indexOf('after truncation') &&
          lines.indexOf('after truncation') < lines.indexOf('in the new file'),
        end,
      );
      fs.appendFileSync(file, 'after the stop\n');
      await sleep(1000);
      assert.equal(read(), end, 'nothing is read after methodTimeout');
    });

    it('bad arguments give an error line at central and the node keeps working', async () => {
      await central.send(
        JSON.stringify([
          { toNode: 'ship1', method: 'REQCliCommandCont', methodArgs: [], directory: 'bad', fileName: 'x.txt' },
          { toNode: 'ship1', method: 'REQTailFile', methodArgs: [], directory: 'bad', fileName: 'y.txt' },
          { toNode: 'ship1', method: 'REQTailFile', methodArgs: ['/nonexistent/steward-test.log'], directory: 'bad', fileName: 'z.txt' },
          { toNode: 'ship1', method: 'REQCliCommandCont', methodArgs: ['/nonexistent/steward-cmd'], directory: 'bad', fileName: 'w.txt' },
        ]),
      );
      const log = await eventually(
        () => {
          const l = central.readErrorLog();
          return (
            /REQCliCommandCont: methodArgs is empty/.test(l) &&
            /REQTailFile: methodArgs is empty/.test(l) &&
            /REQTailFile: cannot follow "\/nonexistent\/steward-test.log": ENOENT/.test(l) &&
            /REQCliCommandCont: cannot run/.test(l) &&
            l
          );
        },
        { what: 'four error lines' },
      );
      assert.match(log, /node: ship1, error: REQTailFile: cannot follow/);
      assert.equal(ship1.running, true);
      await accepted({
        toNode: 'ship1',
        method: 'REQCliCommandCont',
        methodArgs: ['echo', 'still here'],
        directory: 'bad',
        fileName: 'ok.txt',
      });
      await eventually(() => central.readData('bad', 'ship1', 'ok.txt').startsWith('still here\n'), {
        what: 'a command after the bad ones',
      });
    });

    it('{{STEWARD_DATA}} hands the first command output to a REQCliCommand reply method (quoted echo)', async () => {
      await accepted({
        directory: 'cli_command_test',
        fileName: 'cli_command.result',
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['bash', '-c', 'printf "alpha beta\\ngamma\\n"'],
        replyMethod: 'REQCliCommand',
        replyMethodArgs: ['bash', '-c', 'printenv PATH > apekatt-path.txt; echo "{{STEWARD_DATA}}" > apekatt.txt; echo reply-ran'],
        replyMethodTimeOut: 10,
        ACKTimeout: 3,
        retries: 3,
        methodTimeout: 10,
      });
      // The environment is written first: once apekatt.txt holds the data, both files are there.
      const file = path.join(central.dir, 'apekatt.txt');
      await eventually(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('gamma'), { what: 'apekatt.txt on central' });
      assert.equal(fs.readFileSync(file, 'utf8'), 'alpha beta\ngamma\n\n');
      assert.equal(fs.readFileSync(path.join(central.dir, 'apekatt-path.txt'), 'utf8'), `${process.env.PATH}\n`, 'PATH is kept');
      // The reply command's own output lands next to where the first one's would.
      await eventually(() => central.readData('cli_command_test', 'ship1', 'cli_command.result') === 'reply-ran\n', {
        what: "the reply command's result",
      });
    });

    it('{{STEWARD_DATA}} works with the bash here-string example', async () => {
      await accepted({
        directory: 'cli_command_test',
        fileName: 'hest.result',
        toNode: 'ship1',
        method: 'REQCliCommand',
        methodArgs: ['bash', '-c', 'echo "one  two"; echo three'],
        replyMethod: 'REQCliCommand',
        replyMethodArgs: ['bash', '-c', 'env > hest-env.txt; cat <<< {{STEWARD_DATA}} > hest.txt'],
        replyMethodTimeOut: 10,
        ACKTimeout: 3,
        retries: 3,
        methodTimeout: 10,
      });
      const file = path.join(central.dir, 'hest.txt');
      await eventually(() => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('three'), { what: 'hest.txt on central' });
      assert.equal(fs.readFileSync(file, 'utf8'), 'one  two\nthree\n\n');
      const env = fs.readFileSync(path.join(central.dir, 'hest-env.txt'), 'utf8').split('\n');
      assert.ok(env.includes(`PATH=${process.env.PATH}`), 'PATH is kept');
      assert.ok(env.includes('STEWARD_DATA=one  two'), 'STEWARD_DATA is set');
    });

    it('REQTailFile with methodTimeout -1 runs until the node stops', async () => {
      const file = path.join(ship1.dir, 'forever.log');
      fs.writeFileSync(file, '');
      await accepted({
        toNode: 'ship1',
        method: 'REQTailFile',
        methodArgs: [file],
        directory: 'tail',
        fileName: 'forever.txt',
        methodTimeout: -1,
      });
      let n = 0;
      await eventually(
        () => {
          fs.appendFileSync(file, `probe${n++}\n`);
          return central.readData('tail', 'ship1', 'forever.txt').includes('probe');
        },
        { intervalMs: 300, what: 'an appended line' },
      );
      // The node stops cleanly while the tail runs, and the tail ends with it.
      const logStart = ship1.stderr.length;
      await ship1.stop();
      assert.equal(ship1.running, false);
      const log = ship1.stderr.slice(logStart);
      assert.match(log, /REQTailFile stopped: node ship1 is stopping/);
      assert.doesNotMatch(log, /"level":(50|60)/, 'no error logged while stopping');
    });

    it('ran its commands the way -spawnHelper says', () => {
      if (spawnHelper === 'on') assert.match(ship1.stderr, /spawn helper started/);
      assert.doesNotMatch(ship1.stderr, /spawn helper could not start|spawn helper stopped/);
    });
  });
