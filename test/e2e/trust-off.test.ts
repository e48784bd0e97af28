import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stewardCli } from '../support/cli.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import type { StewardProcess } from '../support/steward.js';

/**
 * `-trust=off` on every node (a closed network): README and security.md promise no proofs and no
 * policy, so what the Go original allowed works again (a node commands another, the seed's relay
 * example runs without a policy.toml), while the guards that are not the policy stay.
 */
describe('-trust=off', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let node1: StewardProcess;
  let node2: StewardProcess;
  const countFile = (tag: string): string => path.join(os.tmpdir(), `steward-trustoff-${process.pid}-${tag}.count`);
  const counted = (tag: string): string[] => ['bash', '-c', `echo ran >> ${countFile(tag)}; echo said ${tag}`];
  const runs = (tag: string): number =>
    fs.existsSync(countFile(tag)) ? fs.readFileSync(countFile(tag), 'utf8').split('\n').filter(Boolean).length : 0;

  before(async () => {
    fleet = await startFleet(['central', 'node1', 'node2'], {
      flags: ['-startPubREQHello=0', '-trust=off'],
      flagsFor: { central: ['-startSubREQRelay=true'] },
    });
    [central, node1, node2] = fleet.nodes as [StewardProcess, StewardProcess, StewardProcess];
  });

  after(async () => {
    await fleet?.close();
    for (const tag of ['central', 'direct', 'relay']) fs.rmSync(countFile(tag), { force: true });
  });

  it('says at every start that anyone on the broker commands the node', () => {
    for (const n of [central, node1, node2])
      assert.match(n.stderr, /-trust=off: messages carry no proof of origin and no policy is checked/);
  });

  /** Sends a counted command from `from` to `to`; its output, once in `from`'s folder off/<to>/<tag>.txt. */
  const command = async (from: StewardProcess, to: string, tag: string): Promise<string> => {
    const [answer] = await from.send(
      JSON.stringify([{ toNode: to, method: 'REQCliCommand', methodArgs: counted(tag), directory: 'off', fileName: `${tag}.txt` }]),
    );
    assert.equal(answer?.status, 'accepted', JSON.stringify(answer));
    return eventually(() => from.readData('off', to, `${tag}.txt`), { what: `the reply of ${to} on ${from.opts.name}`, timeoutMs: 30_000 });
  };

  it('runs central commands as with trust on', async () => {
    assert.equal(await command(central, 'node1', 'central'), 'said central\n');
    assert.equal(runs('central'), 1);
  });

  it('lets a node command another with no policy.toml (the default rules would deny it with trust on)', async () => {
    assert.equal(await command(node1, 'node2', 'direct'), 'said direct\n');
    assert.equal(runs('direct'), 1, 'node2 ran it once');
    assert.equal(node2.readErrorLog(), '');
    assert.doesNotMatch(central.readErrorLog(), /denied by the policy/);
  });

  it('says so in steward policy check, whatever policy.toml would decide', async () => {
    fs.writeFileSync(
      path.join(node2.dir, 'etc', 'policy.toml'),
      '[[rule]]\nname = "nothing"\nfrom = ["*"]\nmethods = ["*"]\naction = "deny"\n',
    );
    try {
      const check = await stewardCli(['policy', 'check', '--from', 'node1', '--method', 'REQCliCommand', '--', 'uptime'], node2.dir);
      assert.equal(check.code, 0, check.stderr);
      assert.match(
        check.stdout,
        /^allow: node1 REQCliCommand \["uptime"\] \(rule: -trust=off: no policy is checked; from .*config\.toml \(Trust = "off"\)\)/,
      );
    } finally {
      fs.rmSync(path.join(node2.dir, 'etc', 'policy.toml'));
    }
  });

  it("runs the seed's relay example with no policy.toml on the relay or the target", async () => {
    const [answer] = await node1.send(
      JSON.stringify([
        {
          toNode: 'node2',
          relayViaNode: 'central',
          relayReplyMethod: 'REQToConsole',
          method: 'REQCliCommand',
          methodArgs: counted('relay'),
          replyMethod: 'REQToFileAppend',
          directory: 'relay',
          fileName: 'r.log',
        },
      ]),
    );
    assert.equal(answer?.status, 'accepted', JSON.stringify(answer));
    const onCentral = await eventually(() => central.readData('relay', 'node2', 'r.log'), {
      what: 'the reply on central',
      timeoutMs: 30_000,
    });
    assert.equal(onCentral, 'said relay\n');
    await eventually(() => node1.stdout.includes('said relay\n'), { what: 'the copy printed on node1', timeoutMs: 30_000 });
    assert.equal(runs('relay'), 1, 'node2 ran it once');
  });

  it("still refuses a write into another node's error log: that guard is not the policy", async () => {
    const [answer] = await node1.send(
      JSON.stringify([{ toNode: 'central', method: 'REQToFile', methodArgs: ['forged'], directory: 'errorLog', fileName: 'error.log' }]),
    );
    assert.equal(answer?.status, 'accepted', JSON.stringify(answer));
    const line = await central.errorLogLine('may not write into errorLog/');
    assert.match(line, /from node1/);
    assert.doesNotMatch(central.readErrorLog(), /^forged$/m);
  });
});
