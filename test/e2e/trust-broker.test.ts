import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PermissionViolationError } from '@nats-io/transport-node';
import { stewardCli } from '../support/cli.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { RogueNode } from '../support/rogue.js';
import { ROOT, type StewardProcess } from '../support/steward.js';

/**
 * The broker's permissions are the first wall: `steward broker-config` writes them from the
 * fleet's keys (as scripts/gen-nkey.mjs makes them), and a fleet runs behind them.
 */
describe('steward broker-config', () => {
  let dir: string;
  let fleet: Fleet;
  let central: StewardProcess;
  let config: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-broker-'));
    execFileSync(process.execPath, [
      path.join(ROOT, 'scripts', 'gen-nkey.mjs'),
      '--dir',
      path.join(dir, 'keys'),
      'central',
      'ship1',
      'ship2',
    ]);
    const r = await stewardCli(['broker-config', '--central', 'central', '--keys', path.join(dir, 'keys'), 'ship1', 'ship2'], dir);
    assert.equal(r.code, 0, r.stderr);
    config = r.stdout;
    fs.writeFileSync(path.join(dir, 'nats.conf'), config);
    const seed = (n: string): string => `-nkeySeedFile=${path.join(dir, 'keys', `${n}.nk`)}`;
    fleet = await startFleet(['central', 'ship1', 'ship2'], {
      natsArgs: ['-c', path.join(dir, 'nats.conf')],
      flags: ['-startPubREQHello=1'],
      flagsFor: { central: [seed('central')], ship1: [seed('ship1')], ship2: [seed('ship2')] },
    });
    central = fleet.nodes[0] as StewardProcess;
  });

  after(async () => {
    await fleet?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes one user per node with its key, and allow_responses for every node but central', () => {
    for (const n of ['central', 'ship1', 'ship2']) {
      const key = fs.readFileSync(path.join(dir, 'keys', `${n}.pub`), 'utf8').trim();
      assert.ok(config.includes(`nkey: "${key}"`), `${n}'s key is in the config`);
    }
    assert.equal(config.split('allow_responses: true').length - 1, 2);
    assert.match(config, /subscribe: \{ allow: \["ship1\.>", "_INBOX\.ship1\.>"\] \}/);
  });

  it('lets central command a node and get its reply, behind those permissions', async () => {
    const [line] = await central.send(
      JSON.stringify({
        toNode: 'ship2',
        method: 'REQCliCommand',
        methodArgs: ['echo', 'behind the wall'],
        directory: 'b',
        fileName: 'o.txt',
      }),
    );
    assert.equal(line?.status, 'accepted');
    assert.equal(
      await eventually(() => central.readData('b', 'ship2', 'o.txt'), { what: 'the reply', timeoutMs: 30_000 }),
      'behind the wall\n',
    );
  });

  it("keeps ship1's key from commanding ship2 and from answering requests it did not get", async () => {
    const rogue = await RogueNode.connect(fleet.nats.url, 'ship1', path.join(dir, 'keys', 'ship1.nk'), { brokerAuth: true });
    try {
      const refused: string[] = [];
      void (async () => {
        for await (const s of rogue.connection.status()) {
          if (s.type === 'error' && s.error instanceof PermissionViolationError) refused.push(s.error.subject);
        }
      })();
      rogue.connection.publish('ship2.REQCliCommand.CommandACK', 'x');
      rogue.connection.publish('_INBOX.central.guess.token', 'junk ACK');
      await eventually(() => refused.length === 2, { what: 'two permission violations' });
      assert.deepEqual(refused.sort(), ['_INBOX.central.guess.token', 'ship2.REQCliCommand.CommandACK']);
    } finally {
      await rogue.close();
    }
  });
});
