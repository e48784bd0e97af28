import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decodeMessage } from '../../src/message/codec.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { cmd, type StewardProcess } from '../support/steward.js';

/** What each node is started with, and so what its messages must carry on the wire. */
const SETTINGS = {
  central: { flags: ['-compression=z', '-serialization=json'], serial: 'json', cmp: 'z' },
  ship1: { flags: ['-compression=g'], serial: 'cbor', cmp: 'g' },
  ship2: { flags: [], serial: 'cbor', cmp: '' },
} as const;
type Name = keyof typeof SETTINGS;
const NAMES = Object.keys(SETTINGS) as Name[];

const ANY_NODE_RUNS_COMMANDS = `
[[rule]]
name = "every node of this fleet may run commands here"
from = ["*"]
methods = ["REQCliCommand"]
action = "allow"
`;

describe('nodes with different wire settings', () => {
  let fleet: Fleet;
  let tap: NatsConnection;
  /** `fromNode method serial cmp` of every steward message seen on the broker. */
  const seen: string[] = [];
  const undecodable: string[] = [];

  before(async () => {
    fleet = await startFleet(NAMES, {
      flags: ['-startPubREQHello=0'],
      flagsFor: Object.fromEntries(NAMES.map((n) => [n, [...SETTINGS[n].flags]])),
      // Commands go in every direction here, not only from central.
      policyFor: Object.fromEntries(NAMES.map((n) => [n, ANY_NODE_RUNS_COMMANDS])),
    });
    // A plain subscriber on every subject, decoding what the nodes publish with the receivers' codec.
    tap = await connect({ servers: fleet.nats.url, name: 'tap' });
    tap.subscribe('>', {
      callback: (err, m) => {
        if (err !== null || m.subject.startsWith('_INBOX.')) return;
        const header = (h: string): string => m.headers?.get(h) ?? '';
        decodeMessage(m.data, header).then(
          (msg) => seen.push(`${msg.fromNode} ${msg.method} ${header('serial')} ${header('cmp')}`),
          (e: Error) => undecodable.push(`${m.subject}: ${e.message}`),
        );
      },
    });
    await tap.flush();
  });

  after(async () => {
    await tap?.close();
    await fleet?.close();
  });

  it('runs a command in every direction between central (zstd, JSON), ship1 (gzip, CBOR) and ship2 (defaults)', async () => {
    const node = (n: Name): StewardProcess => fleet.nodes[NAMES.indexOf(n)] as StewardProcess;
    const pairs = NAMES.flatMap((from) => NAMES.filter((to) => to !== from).map((to) => [from, to] as const));
    for (const [from, to] of pairs) {
      const answer = await node(from).send(
        JSON.stringify(cmd(to, ['echo', `${from}-to-${to}`], { directory: 'mix', retries: -1, ACKTimeout: 2 })),
      );
      assert.equal(answer[0]?.status, 'accepted', `${from} accepts its command for ${to}`);
    }
    for (const [from, to] of pairs) {
      const out = await eventually(() => node(from).readData('mix', to, 'out.txt'), { what: `the reply of ${to} on ${from}` });
      assert.equal(out, `${from}-to-${to}\n`, `${to} ran ${from}'s command once and its reply came back once`);
    }

    // Each node really published with its own settings: commands and replies alike.
    await eventually(() => seen.length >= pairs.length * 2, { what: 'the tap to see every command and reply' });
    assert.deepEqual(undecodable, []);
    for (const n of NAMES) {
      const mine = seen.filter((s) => s.startsWith(`${n} `));
      const want = [
        `${n} REQCliCommand ${SETTINGS[n].serial} ${SETTINGS[n].cmp}`,
        `${n} REQToFileAppend ${SETTINGS[n].serial} ${SETTINGS[n].cmp}`,
      ];
      assert.deepEqual(
        [...new Set(mine)].sort(),
        want,
        `${n} publishes with serial=${SETTINGS[n].serial} cmp=${SETTINGS[n].cmp || '(none)'}`,
      );
    }
    assert.equal(node('central').readErrorLog(), '', 'no node reported an error (e.g. a payload it could not decode) to central');
  });
});
