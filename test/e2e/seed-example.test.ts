import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { StewardProcess } from '../support/steward.js';

describe('the seed README walk-through', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;

  before(async () => {
    fleet = await startFleet(['central', 'ship1', 'ship2'], { flags: ['-startPubREQHello=1'] });
    [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
  });

  after(() => fleet?.close());

  it("lands the first example's output from ship1 in central's data folder, sent with nc -NU", async () => {
    fs.writeFileSync(path.join(ship1.dir, 'marker-file.txt'), 'x');
    const msg = `[
{
"directory":"/var/cli/command_result/",
"fileName": "some-file-name.result",
"toNode": "ship1",
"method":"REQCliCommand",
"methodArgs": ["bash","-c","sleep 5 & ls ./"],
"replyMethod":"REQToFileAppend",
"ACKTimeout":5,
"retries":3,
"replyACKTimeout":5,
"replyRetries":3,
"methodTimeout": 10
}
]`;
    const msgFile = path.join(central.dir, 'msg.json');
    fs.writeFileSync(msgFile, msg);
    const answer = execFileSync('nc', ['-NU', './tmp/steward.sock'], { cwd: central.dir, input: msg, encoding: 'utf8' });
    const line = JSON.parse(answer.trim()) as { status: string; id: string; subject: string };
    assert.equal(line.status, 'accepted');
    assert.equal(line.subject, 'ship1.REQCliCommand.CommandACK');
    assert.match(line.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    const result = await eventually(() => central.readData('var', 'cli', 'command_result', 'ship1', 'some-file-name.result'), {
      what: 'the result file on central',
    });
    assert.match(result, /marker-file\.txt/);
    assert.match(result, /etc/);
  });

  it('answers the seed example with the REQnCliCommand typo with an error that names the right method', async () => {
    const lines = await central.send(
      '[{"directory":"some/cli/command","fileName":"cli.result","toNode":"ship2","method":"REQnCliCommand","methodArgs":["bash","-c","docker ps -a"],"replyMethod":"REQToFileAppend",}]',
    );
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.status, 'error');
    assert.match(lines[0]?.error ?? '', /unknown method "REQnCliCommand" \(did you mean "REQCliCommand"\?\)/);
  });

  it('answers the REQnCliCommandCont typo of the seed the same way', async () => {
    const lines = await central.send(
      '[{"directory":"some/cli/command","fileName":"cli.result","toNode":"ship2","method":"REQnCliCommandCont","methodArgs":["bash","-c","docker ps -a"],"replyMethod":"REQToFileAppend","methodTimeout":10,}]',
    );
    assert.equal(lines[0]?.status, 'error');
    assert.match(lines[0]?.error ?? '', /unknown method "REQnCliCommandCont" \(did you mean "REQCliCommandCont"\?\)/);
  });

  it('fans a toNodes message out to every node, each result in its own node folder', async () => {
    const lines = await central.send(
      JSON.stringify([
        {
          toNodes: ['ship1', 'ship2'],
          method: 'REQCliCommand',
          methodArgs: ['bash', '-c', 'echo from $0; hostname >/dev/null'],
          directory: 'fan',
          fileName: 'out.txt',
        },
      ]),
    );
    assert.deepEqual(
      lines.map((l) => [l.status, l.toNode]),
      [
        ['accepted', 'ship1'],
        ['accepted', 'ship2'],
      ],
    );
    assert.notEqual(lines[0]?.id, lines[1]?.id);
    for (const ship of ['ship1', 'ship2']) {
      const out = await eventually(() => central.readData('fan', ship, 'out.txt'), { what: `${ship} fan-out result` });
      assert.equal(out, 'from bash\n');
    }
  });

  it('accepts YAML, a single object, keys in any letter case and trailing commas', async () => {
    const yaml = 'toNode: ship2\nmethod: REQCliCommand\nmethodArgs: [echo, yaml-ok]\ndirectory: yaml\nfileName: out.txt\n';
    assert.equal((await central.send(yaml))[0]?.status, 'accepted');
    const json =
      '{"TONODE":"ship1","Method":"REQCliCommand","methodargs":["echo","case-ok"],"directory":"case","fileName":"out.txt","replyMethodTimeOut":10,}';
    assert.equal((await central.send(json))[0]?.status, 'accepted');
    assert.equal(await eventually(() => central.readData('yaml', 'ship2', 'out.txt')), 'yaml-ok\n');
    assert.equal(await eventually(() => central.readData('case', 'ship1', 'out.txt')), 'case-ok\n');
  });

  it('writes hello messages from every node on central and keeps the result paths inside the data folder', async () => {
    for (const n of ['ship1', 'ship2']) {
      const log = await eventually(() => central.readData('hello-messages', n, 'hello.log'), { what: `hello from ${n}` });
      assert.match(log, new RegExp(`Received hello from "${n}"`));
    }
    await central.send(JSON.stringify(cmd2('ship1', '../../../../escape', '../../evil.txt')));
    const inside = await eventually(() => central.readData('escape', 'ship1', 'evil.txt'), { what: 'the confined result file' });
    assert.equal(inside, 'contained\n');
    assert.equal(fs.existsSync(path.join(central.dir, 'evil.txt')), false);
  });

  it('sends a failing command to the central error log with its stderr, and still replies with stdout', async () => {
    await central.send(
      JSON.stringify({
        toNode: 'ship2',
        method: 'REQCliCommand',
        methodArgs: ['bash', '-c', 'echo partial; echo broken-thing >&2; exit 3'],
        directory: 'fail',
        fileName: 'out.txt',
      }),
    );
    assert.equal(await eventually(() => central.readData('fail', 'ship2', 'out.txt')), 'partial\n');
    const log = await eventually(() => central.readErrorLog().includes('broken-thing') && central.readErrorLog(), { what: 'error line' });
    assert.match(log, /node: ship2, error: REQCliCommand: command exited with code 3, .*error_output: broken-thing/);
    // the config file was written back with the flags given
    const toml = fs.readFileSync(path.join(central.dir, 'etc', 'config.toml'), 'utf8');
    assert.match(toml, /NodeName = "central"/);
    execFileSync('true');
  });
});

function cmd2(toNode: string, directory: string, fileName: string): Record<string, unknown> {
  return { toNode, method: 'REQCliCommand', methodArgs: ['echo', 'contained'], directory, fileName };
}
