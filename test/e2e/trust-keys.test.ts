import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stewardCli } from '../support/cli.js';
import { eventually } from '../support/eventually.js';
import { NatsServer } from '../support/nats-server.js';
import { StewardProcess } from '../support/steward.js';

interface KeyRow {
  name: string;
  state: string;
  source: string;
  fingerprint: string;
  publicKey: string;
}

const keysOf = async (node: StewardProcess): Promise<KeyRow[]> => {
  const r = await stewardCli(['keys', '--json'], node.dir);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as KeyRow);
};

/** Keys bound to names, as an operator sees and changes them, and the policy, with real daemons. */
describe('trust: keys and policy', () => {
  let nats: NatsServer;
  let central: StewardProcess;
  let ship1: StewardProcess;
  const extra: StewardProcess[] = [];
  const start = async (name: string, flags: string[] = [], o: { policy?: string; central?: string } = {}): Promise<StewardProcess> => {
    const p = await StewardProcess.start({
      name,
      central: o.central ?? 'central',
      brokerUrl: `127.0.0.1:${nats.port}`,
      flags: ['-startPubREQHello=1', ...flags],
      ...(o.policy === undefined ? {} : { policy: o.policy }),
    });
    extra.push(p);
    return p;
  };
  const ranOn = async (from: StewardProcess, to: string, text: string): Promise<string> => {
    const [line] = await from.send(
      JSON.stringify({ toNode: to, method: 'REQCliCommand', methodArgs: ['echo', text], directory: 'k', fileName: `${text}.txt` }),
    );
    assert.equal(line?.status, 'accepted', JSON.stringify(line));
    return eventually(() => from.readData('k', to, `${text}.txt`), { what: `the reply of ${text} from ${to}`, timeoutMs: 30_000 });
  };

  before(async () => {
    nats = await NatsServer.start();
    central = await start('central', [], {
      policy: `
[[rule]]
name = "ship1 may echo ok"
from = ["ship1"]
methods = ["REQCliCommand"]
args = ["^echo ok"]
action = "allow"
`,
    });
    ship1 = await start('ship1');
  });

  after(async () => {
    await Promise.all(extra.map((p) => p.stop()));
    await nats.close();
    for (const p of extra) p.cleanup();
  });

  it("pins each node's key on first use, and each ship pins central's", async () => {
    await eventually(async () => (await keysOf(central)).some((k) => k.name === 'ship1' && k.state === 'pinned'), {
      what: 'ship1 pinned on central',
    });
    assert.equal(await ranOn(central, 'ship1', 'pin'), 'pin\n');
    const onShip = await keysOf(ship1);
    assert.deepEqual(
      onShip.map((k) => [k.name, k.state, k.source]),
      [['central', 'pinned', 'tofu']],
    );
    const ownKey = fs.readFileSync(path.join(central.dir, 'etc', 'identity.nk'), 'utf8');
    assert.match(ownKey, /^SU[A-Z2-7]+\n$/);
    assert.equal(fs.statSync(path.join(central.dir, 'etc', 'identity.nk')).mode & 0o777, 0o600);
    const list = await stewardCli(['keys'], central.dir);
    assert.match(list.stdout, /^this node: central SHA256:\S+ \(U[A-Z2-7]{55}\); new keys: tofu\n/);
    assert.match(list.stdout, /ship1 +pinned +SHA256:\S+ +tofu/);
  });

  it('allows, denies and matches arguments by policy, and reloads it on SIGHUP', async () => {
    assert.equal(await ranOn(ship1, 'central', 'ok-1'), 'ok-1\n');
    const [denied] = await ship1.send(
      JSON.stringify({ toNode: 'central', method: 'REQCliCommand', methodArgs: ['echo', 'no'], replyMethod: 'REQNone' }),
    );
    assert.equal(denied?.status, 'accepted');
    const line = await eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes('may not REQCliCommand')),
      { what: 'the denial at central' },
    );
    assert.match(line, /denied by the policy of central: ship1 may not REQCliCommand \(rule: default deny \(no rule matched\)\)/);
    const check = await stewardCli(['policy', 'check', '--from', 'ship1', '--method', 'REQCliCommand', '--', 'echo', 'ok-2'], central.dir);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^allow: ship1 REQCliCommand \["echo","ok-2"\] \(rule: ship1 may echo ok;/);
    // A new policy, taken at SIGHUP: ship1 may no longer run anything here.
    fs.writeFileSync(
      path.join(central.dir, 'etc', 'policy.toml'),
      '[[rule]]\nname = "ship1 may not"\nfrom = ["ship1"]\nmethods = ["*"]\naction = "deny"\n',
    );
    process.kill(central.pid as number, 'SIGHUP');
    await eventually(() => central.stderr.includes('"msg":"policy reloaded"'), { what: 'the reload' });
    await ship1.send(JSON.stringify({ toNode: 'central', method: 'REQCliCommand', methodArgs: ['echo', 'ok-3'], replyMethod: 'REQNone' }));
    await eventually(() => central.readErrorLog().includes('(rule: ship1 may not)'), { what: 'the new rule deciding' });
    // A policy that does not parse leaves the one in force.
    fs.writeFileSync(path.join(central.dir, 'etc', 'policy.toml'), '[[rule]]\nfrom = "ship1"\nmethods = ["*"]\naction = "deny"\n');
    process.kill(central.pid as number, 'SIGHUP');
    await eventually(() => central.stderr.includes('policy not reloaded: the rules in force stay'), { what: 'the refused reload' });
    const still = await stewardCli(['policy', 'check', '--from', 'ship1', '--method', 'REQCliCommand'], central.dir);
    assert.equal(still.code, 2);
    assert.match(still.stderr, /policy\.toml, rule 1: from must be a non-empty list of strings/);
    // Back to the defaults (no file) for the tests that follow.
    fs.rmSync(path.join(central.dir, 'etc', 'policy.toml'));
    const reloads = central.stderr.split('"msg":"policy reloaded"').length;
    process.kill(central.pid as number, 'SIGHUP');
    await eventually(() => central.stderr.split('"msg":"policy reloaded"').length > reloads, { what: 'the reload to the defaults' });
  });

  it('keeps a new key waiting in manual mode until an operator accepts it', async () => {
    const hub = await start('hub', ['-trustNewKeys=manual'], { central: 'hub' });
    await start('ship3', [], { central: 'hub' });
    await eventually(async () => (await keysOf(hub)).some((k) => k.name === 'ship3' && k.state === 'pending'), { what: 'ship3 pending' });
    await eventually(() => hub.readErrorLog().includes('a new node ship3 (key SHA256:'), { what: 'the pending line' });
    assert.equal(fs.existsSync(path.join(hub.dataDir, 'hello-messages', 'ship3')), false, 'a pending node says no hello');
    const accepted = await stewardCli(['keys', 'accept', 'ship3'], hub.dir);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stdout, /^ship3 {2}pinned {2}SHA256:/);
    assert.equal(await ranOn(hub, 'ship3', 'accepted'), 'accepted\n');
  });

  it('rotates a key: the node proves its new key with its old one, and goes on working', async () => {
    const before = (await keysOf(central)).find((k) => k.name === 'ship1');
    const seed = fs.readFileSync(path.join(ship1.dir, 'etc', 'identity.nk'), 'utf8');
    const r = await stewardCli(['keys', 'rotate'], ship1.dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^rotated: SHA256:\S+ -> SHA256:\S+; told central\n$/);
    assert.notEqual(fs.readFileSync(path.join(ship1.dir, 'etc', 'identity.nk'), 'utf8'), seed);
    const after = (await keysOf(central)).find((k) => k.name === 'ship1');
    assert.equal(after?.source, 'rotated');
    assert.notEqual(after?.publicKey, before?.publicKey);
    assert.equal(await ranOn(central, 'ship1', 'rotated'), 'rotated\n');
    // What ship1 sends on its own (an error line) is proven by its new key and taken.
    await central.send(
      JSON.stringify({ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['sh', '-c', 'exit 7'], replyMethod: 'REQNone' }),
    );
    await eventually(() => /node: ship1, error: REQCliCommand: command exited with code 7/.test(central.readErrorLog()), {
      what: "ship1's error line, proven by its new key",
    });
  });

  it('refuses names that were not imported once the fleet keys are imported, and takes -centralPublicKey', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-keys-'));
    try {
      const hub = await start('hub2', [], { central: 'hub2' });
      const hubKey = await publicKeyOf(hub);
      const known = await start('known', [`-centralPublicKey=${hubKey}`], { central: 'hub2' });
      fs.writeFileSync(path.join(dir, 'known.pub'), `${await publicKeyOf(known)}\n`);
      const imported = await stewardCli(['keys', 'import', dir], hub.dir);
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stdout, /known {2}(added|same)/);
      assert.deepEqual(
        (await keysOf(known)).map((k) => [k.name, k.source]),
        [['hub2', 'provisioned']],
      );
      const stranger = await start('stranger', [], { central: 'hub2' });
      await eventually(() => hub.readErrorLog().includes('claims to be from stranger, a name that is not among the imported keys'), {
        what: 'the stranger refused at hub2',
      });
      assert.ok(!(await keysOf(hub)).some((k) => k.name === 'stranger'));
      assert.equal(await ranOn(hub, 'known', 'imported'), 'imported\n');
      await stranger.stop();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function publicKeyOf(node: StewardProcess): Promise<string> {
  const list = await stewardCli(['keys'], node.dir);
  assert.equal(list.code, 0, list.stderr);
  const m = /\((U[A-Z2-7]{55})\)/.exec(list.stdout);
  assert.ok(m !== null, list.stdout);
  return m[1] as string;
}
