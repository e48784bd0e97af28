import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { authorization } from '../support/nats-auth.js';
import { makeNkeyUser } from '../support/pki.js';
import { RELAY_RULE, RELAYED_RULE } from '../support/relay-policy.js';
import type { StewardProcess } from '../support/steward.js';
import { tempFolders } from '../support/temp.js';

const counted = (file: string, tag: string): string[] => ['bash', '-c', `echo ran >> ${file}; echo relayed ${tag}`];
/** Where the relayed commands count their runs (removed when the file's tests are done). */
const counts = tempFolders('steward-relay-counts')();
const countFile = (tag: string): string => path.join(counts, `${tag}.count`);

/**
 * Relaying as the seed's six steps describe: a message given on node1 for node2 with
 * `relayViaNode: central` goes node1 -> central -> node2; the reply goes node2 -> central, is
 * handled on central with its replyMethod, and a copy goes to node1 with relayReplyMethod.
 */
describe('REQRelay and REQRelayInitial', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let node1: StewardProcess;
  let node2: StewardProcess;
  let tagNo = 0;
  const newTag = (what: string): string => `${what}-${++tagNo}`;

  before(async () => {
    fleet = await startFleet(['central', 'node1', 'node2', 'ship3'], {
      flags: ['-startPubREQHello=0'],
      // central writes the relayed copy into its temporary folder, outside its data folder.
      flagsFor: { central: ['-startSubREQRelay=true', `-copyDestinations=${os.tmpdir()}`] },
      policyFor: { central: RELAY_RULE, node2: RELAYED_RULE },
    });
    [central, node1, node2] = fleet.nodes as [StewardProcess, StewardProcess, StewardProcess];
  });

  after(async () => {
    await fleet?.close();
  });

  const relayed = (tag: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    directory: 'relay',
    fileName: `${tag}.log`,
    toNode: 'node2',
    relayViaNode: 'central',
    relayReplyMethod: 'REQToConsole',
    method: 'REQCliCommand',
    methodArgs: counted(countFile(tag), tag),
    replyMethod: 'REQToFileAppend',
    ACKTimeout: 5,
    retries: 3,
    methodTimeout: 10,
    ...extra,
  });
  const runs = (tag: string): number =>
    fs.existsSync(countFile(tag)) ? fs.readFileSync(countFile(tag), 'utf8').split('\n').filter(Boolean).length : 0;

  it('runs on node2, handles the reply on central and prints the copy on node1 (steps 1-6)', async () => {
    const tag = newTag('steps');
    const [answer] = await node1.send(JSON.stringify([relayed(tag)]));
    assert.equal(answer?.status, 'accepted', JSON.stringify(answer));
    assert.equal(answer?.toNode, 'node2');
    assert.equal(answer?.subject, 'node2.central.REQRelay.EventACK', 'it leaves node1 on the relay subject of its target');
    // Step 5: central handles the reply with the original replyMethod (REQToFileAppend).
    const onCentral = await eventually(() => central.readData('relay', 'node2', `${tag}.log`), {
      what: 'the reply on central',
      timeoutMs: 30_000,
    });
    assert.equal(onCentral, `relayed ${tag}\n`);
    // Step 6: node1 handles the copy with relayReplyMethod (REQToConsole prints it).
    await eventually(() => node1.stdout.includes(`relayed ${tag}\n`), { what: 'the copy printed on node1', timeoutMs: 30_000 });
    assert.equal(runs(tag), 1, 'node2 ran the command once');
    assert.equal(node1.readData('relay', 'node2', `${tag}.log`), '', 'node1 did not write the file: its copy went to the console');
    assert.equal(node2.readData('relay', 'node2', `${tag}.log`), '');
  });

  it('writes the copy to a file on node1 with relayReplyMethod REQToFileAppend', async () => {
    const tag = newTag('file');
    const [answer] = await node1.send(JSON.stringify([relayed(tag, { relayReplyMethod: 'REQToFileAppend' })]));
    assert.equal(answer?.status, 'accepted');
    const onNode1 = await eventually(() => node1.readData('relay', 'node2', `${tag}.log`), {
      what: 'the copy on node1',
      timeoutMs: 30_000,
    });
    assert.equal(onNode1, `relayed ${tag}\n`);
    // Central queues node1's copy before it writes its own: its file may come a moment later.
    await eventually(() => central.readData('relay', 'node2', `${tag}.log`) !== '', { what: 'the reply on central', timeoutMs: 30_000 });
    assert.equal(central.readData('relay', 'node2', `${tag}.log`), `relayed ${tag}\n`);
    assert.equal(runs(tag), 1);
  });

  it('relays the seed example: REQCliCommandCont output streams back, every batch copied to node1', async () => {
    const tag = newTag('cont');
    // The seed's message, with a command that ends instead of tail -f of a wifi log.
    const msg = {
      directory: '/var/tail-logs/',
      fileName: `${tag}.log`,
      toNode: 'node2',
      relayViaNode: 'central',
      relayReplyMethod: 'REQToFileAppend',
      methodArgs: ['bash', '-c', 'for i in 1 2 3; do echo line $i; sleep 0.3; done'],
      method: 'REQCliCommandCont',
      replyMethod: 'REQToFileAppend',
      ACKTimeout: 5,
      retries: 3,
      replyACKTimeout: 5,
      replyRetries: 3,
      methodTimeout: 10,
    };
    const [answer] = await node1.send(JSON.stringify([msg]));
    assert.equal(answer?.status, 'accepted');
    const file = ['var', 'tail-logs', 'node2', `${tag}.log`];
    const expected = /^line 1\nline 2\nline 3\n\[steward\] REQCliCommandCont ended: command exited with code 0\n$/;
    await eventually(() => expected.test(node1.readData(...file)), { what: 'the whole stream on node1', timeoutMs: 30_000 });
    // Central sends node1's copy of each batch before it writes its own (the copy is queued
    // durably first), so its file may be a batch behind at this instant: it catches up.
    await eventually(() => expected.test(central.readData(...file)), { what: 'the whole stream on central', timeoutMs: 30_000 });
    assert.match(central.readData(...file), expected);
  });

  it('relays a file copy: node2 sends its file to central, and node1 hears that it is in place', async () => {
    const tag = newTag('copy');
    const src = path.join(node2.dir, `${tag}.txt`);
    fs.writeFileSync(src, `file of node2 ${tag}\n`);
    const dst = path.join(central.dir, 'copied', `${tag}.txt`);
    const [answer] = await node1.send(
      JSON.stringify([
        {
          toNode: 'node2',
          relayViaNode: 'central',
          relayReplyMethod: 'REQToFileAppend',
          method: 'REQCopyFileFrom',
          methodArgs: [src, 'central', dst],
          directory: 'relay',
          fileName: `${tag}.log`,
        },
      ]),
    );
    assert.equal(answer?.status, 'accepted');
    const reply = await eventually(() => node1.readData('relay', 'central', `${tag}.log`), {
      what: 'the copy reply on node1',
      timeoutMs: 30_000,
    });
    assert.match(reply, new RegExp(`^info: copied node2:${src} to central:${dst} \\(\\d+ bytes, sha256 [0-9a-f]{64}\\)\n$`));
    assert.equal(fs.readFileSync(dst, 'utf8'), `file of node2 ${tag}\n`);
  });

  it('a relay node with REQRelay off (the default) never gets it: the max-retries line at central', async () => {
    const tag = newTag('off');
    const [answer] = await node1.send(JSON.stringify([relayed(tag, { relayViaNode: 'ship3', ACKTimeout: 1, retries: 1 })]));
    assert.equal(answer?.status, 'accepted');
    assert.equal(answer?.subject, 'node2.ship3.REQRelay.EventACK');
    const line = await eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes('method: REQRelay') && l.includes('max retries reached')),
      {
        what: 'the max-retries line',
        timeoutMs: 30_000,
      },
    );
    assert.match(line, /toNode: ship3, fromNode: node1/);
    assert.equal(runs(tag), 0);
  });

  it('refuses bad relay input at the socket and still takes the good message next to it', async () => {
    const tag = newTag('good');
    const answers = await node1.send(
      JSON.stringify([
        relayed('x', { relayViaNode: 'central/../node2' }),
        { toNode: 'central', method: 'REQRelay', methodArgs: [] },
        { toNode: 'node1', method: 'REQRelayInitial', methodArgs: [] },
        relayed('y', { relayReplyMethod: 'REQToConsol' }),
        relayed(tag),
      ]),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      ['error', 'error', 'error', 'error', 'accepted'],
    );
    assert.match(answers[0]?.error ?? '', /relayViaNode "central\/\.\.\/node2" is not a valid node name/);
    assert.match(
      answers[1]?.error ?? '',
      /REQRelay is what steward sends when it relays; give the real method with "relayViaNode" instead/,
    );
    assert.match(answers[2]?.error ?? '', /REQRelayInitial is what steward sends/);
    assert.match(answers[3]?.error ?? '', /unknown relayReplyMethod "REQToConsol" \(did you mean "REQToConsole"\?\)/);
    await eventually(() => central.readData('relay', 'node2', `${tag}.log`) === `relayed ${tag}\n`, {
      what: 'the good message relayed',
      timeoutMs: 30_000,
    });
  });
});

describe('relaying under the broker permissions of docs/nats-server.md', () => {
  let dir: string;
  let fleet: Fleet;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-relay-auth-'));
    const keys = { central: makeNkeyUser(dir, 'central'), node1: makeNkeyUser(dir, 'node1'), node2: makeNkeyUser(dir, 'node2') };
    const conf = path.join(dir, 'nats.conf');
    fs.writeFileSync(
      conf,
      authorization(
        keys.central,
        { node1: keys.node1, node2: keys.node2 },
        {
          extra: {
            // node1 may have commands run on node2, through central only.
            node1: { publish: ['node2.central.REQRelay.EventACK'] },
            central: { subscribe: ['*.central.REQRelay.EventACK'] },
          },
        },
      ),
    );
    fleet = await startFleet(['central', 'node1', 'node2'], {
      natsArgs: ['-c', conf],
      flags: ['-startPubREQHello=0'],
      flagsFor: {
        central: [`-nkeySeedFile=${keys.central.seedFile}`, '-startSubREQRelay=true'],
        node1: [`-nkeySeedFile=${keys.node1.seedFile}`],
        node2: [`-nkeySeedFile=${keys.node2.seedFile}`],
      },
      policyFor: { central: RELAY_RULE, node2: RELAYED_RULE },
    });
  });

  after(async () => {
    await fleet?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('node1 reaches node2 through central, but not directly', async () => {
    const [central, node1] = fleet.nodes as [StewardProcess, StewardProcess];
    const viaCentral = {
      toNode: 'node2',
      relayViaNode: 'central',
      relayReplyMethod: 'REQToFileAppend',
      method: 'REQCliCommand',
      methodArgs: ['echo', 'through central'],
      directory: 'auth',
      fileName: 'via.log',
    };
    const direct = {
      toNode: 'node2',
      method: 'REQCliCommand',
      methodArgs: ['echo', 'direct'],
      directory: 'auth',
      fileName: 'direct.log',
      ACKTimeout: 1,
      retries: 1,
    };
    const answers = await node1.send(JSON.stringify([viaCentral, direct]));
    assert.deepEqual(
      answers.map((a) => a.status),
      ['accepted', 'accepted'],
    );
    assert.equal(
      await eventually(() => node1.readData('auth', 'node2', 'via.log'), { what: 'the relayed reply on node1', timeoutMs: 30_000 }),
      'through central\n',
    );
    const refused = await eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes('fromNode: node1') && l.includes('method: REQCliCommand') && l.includes('max retries reached')),
      { what: 'the max-retries line of the direct message', timeoutMs: 30_000 },
    );
    assert.match(refused, /toNode: node2/);
    assert.equal(node1.readData('auth', 'node2', 'direct.log'), '');
  });
});
