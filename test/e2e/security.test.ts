import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, nkeyAuthenticator, PermissionViolationError } from '@nats-io/transport-node';
import { eventually } from '../support/eventually.js';
import { failedRows, lines } from '../support/exactly-once.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { NatsServer } from '../support/nats-server.js';
import { authorization } from '../support/nats-auth.js';
import { issueCert, makeCA, makeNkeyUser, type CertFiles, type NkeyUser } from '../support/pki.js';
import { cmd, STEWARD_BIN, StewardProcess } from '../support/steward.js';

function tlsBlock(server: CertFiles, verifyClientsWith?: CertFiles): string {
  const verify = verifyClientsWith === undefined ? '' : `\n  ca_file: "${verifyClientsWith.cert}"\n  verify: true`;
  return `tls {\n  cert_file: "${server.cert}"\n  key_file: "${server.key}"${verify}\n  timeout: 2\n}\n`;
}

/** Writes `<dir>/nats.conf`; the test's nats-server adds `-a 127.0.0.1 -p -1` on its command line. */
function natsConf(dir: string, text: string): string[] {
  const file = path.join(dir, 'nats.conf');
  fs.writeFileSync(file, text);
  return ['-c', file];
}

/** The JSON log lines of a node whose `msg` says it could not connect, as their `err` texts. */
function connectFailures(node: StewardProcess): string[] {
  return node.stderr
    .split('\n')
    .filter((l) => l.includes('could not connect to the broker'))
    .map((l) => (JSON.parse(l) as { err: string }).err);
}

/** Waits until `node` logged two failed connects (so it is retrying) and checks it still takes messages. */
async function assertKeepsRetrying(node: StewardProcess, expected: RegExp): Promise<void> {
  const failures = await eventually(() => connectFailures(node).length >= 2 && connectFailures(node), {
    what: 'two failed connects',
    timeoutMs: 30_000,
  });
  for (const f of failures) assert.match(f, expected);
  assert.ok(node.running, 'the daemon stays up');
  const [answer] = await node.send(JSON.stringify(cmd('central', ['echo', 'queued'])));
  assert.equal(answer?.status, 'accepted', 'the daemon keeps accepting messages while it cannot reach the broker');
}

const tmp = (what: string): string => fs.mkdtempSync(path.join(os.tmpdir(), `steward-${what}-`));

describe('a broker with TLS, nkeys and least-privilege permissions per node', () => {
  let dir: string;
  let ca: CertFiles;
  let keys: Record<'central' | 'ship1' | 'ship2' | 'ship3', NkeyUser>;
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;
  let ship2: StewardProcess;
  const security = (name: keyof typeof keys): string[] => [`-nkeySeedFile=${keys[name].seedFile}`, `-rootCAPath=${ca.cert}`];

  before(async () => {
    dir = tmp('pki');
    ca = makeCA(dir, 'ca');
    const server = issueCert(dir, ca, 'server', 'server');
    keys = {
      central: makeNkeyUser(dir, 'central'),
      ship1: makeNkeyUser(dir, 'ship1'),
      ship2: makeNkeyUser(dir, 'ship2'),
      ship3: makeNkeyUser(dir, 'ship3'),
    };
    const { central: c, ...ships } = keys;
    fleet = await startFleet(['central', 'ship1', 'ship2'], {
      natsArgs: natsConf(dir, tlsBlock(server) + authorization(c, ships)),
      flags: ['-startPubREQHello=0'],
      flagsFor: { central: security('central'), ship1: security('ship1'), ship2: security('ship2') },
    });
    [central, ship1, ship2] = fleet.nodes as [StewardProcess, StewardProcess, StewardProcess];
  });

  after(async () => {
    await fleet?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs a command that central sends to ship1 and brings its output back', async () => {
    const [answer] = await central.send(JSON.stringify(cmd('ship1', ['echo', 'secured'], { directory: 'allowed' })));
    assert.equal(answer?.status, 'accepted');
    assert.equal(await eventually(() => central.readData('allowed', 'ship1', 'out.txt'), { what: 'the reply on central' }), 'secured\n');
  });

  it('never runs a command that ship1 sends to ship2: the broker refuses it and ship1 reports the failure', async () => {
    const runs = path.join(ship2.dir, 'runs.log');
    const [answer] = await ship1.send(
      JSON.stringify(cmd('ship2', ['bash', '-c', `echo from-ship1 >> ${runs}`], { ACKTimeout: 1, retries: 1 })),
    );
    assert.equal(answer?.status, 'accepted', 'ship1 accepts it: only the broker knows who may publish where');
    const id = answer?.id as string;
    // ship1's outbox gives up on it with the broker's words, and central hears of it.
    const failed = await eventually(() => failedRows(ship1).find((r) => r.startsWith(id)), { what: "ship1's failed outbox row" });
    assert.match(failed, /max-retries: the broker refused it: Permissions Violation for Publish to "ship2\.REQCliCommand\.CommandACK"/);
    const line = await eventually(() => lines(central.errorLog).find((l) => l.includes(id)), { what: 'the max-retries line on central' });
    assert.match(line, /node: ship1, info: toNode: ship2, fromNode: ship1, method: REQCliCommand, .*attempts: 2, .*max retries reached/);
    // ship2 does run what central sends it, into the same file: the only line there is central's.
    const [control] = await central.send(
      JSON.stringify(cmd('ship2', ['bash', '-c', `echo from-central >> ${runs}; echo ok`], { directory: 'control' })),
    );
    assert.equal(control?.status, 'accepted');
    await eventually(() => central.readData('control', 'ship2', 'out.txt') === 'ok\n', { what: "the control command's reply" });
    assert.deepEqual(lines(runs), ['from-central']);
  });

  it('never runs a command that ship1 sends to central', async () => {
    const runs = path.join(central.dir, 'runs-from-ship1.log');
    const [answer] = await ship1.send(
      JSON.stringify(cmd('central', ['bash', '-c', `echo from-ship1 >> ${runs}`], { ACKTimeout: 1, retries: 0 })),
    );
    const id = answer?.id as string;
    const failed = await eventually(() => failedRows(ship1).find((r) => r.startsWith(id)), { what: "ship1's failed outbox row" });
    assert.match(failed, /Permissions Violation for Publish to "central\.REQCliCommand\.CommandACK"/);
    assert.equal(fs.existsSync(runs), false);
  });

  it("does not let a node's key listen to another node's subjects", async () => {
    const nc = await connect({
      servers: `127.0.0.1:${fleet.nats.port}`,
      tls: { caFile: ca.cert },
      authenticator: nkeyAuthenticator(new TextEncoder().encode(fs.readFileSync(keys.ship1.seedFile, 'utf8').trim())),
    });
    try {
      const own = nc.subscribe('ship1.probe');
      const other = nc.subscribe('ship2.>');
      // The broker answers SUB before the PONG of this flush, so its verdict is in by then.
      await nc.flush();
      assert.equal(other.isClosed(), true, "the broker let ship1's key subscribe to ship2.>");
      const err = await other.closed;
      assert.ok(err instanceof PermissionViolationError, `expected a permissions violation, got ${String(err)}`);
      assert.equal(err.operation, 'subscription');
      assert.equal(err.subject, 'ship2.>');
      assert.equal(own.isClosed(), false, "the key's own subjects stay subscribed");
    } finally {
      await nc.close();
    }
  });

  it("keeps retrying with a clear log line when the broker's certificate is not signed by rootCAPath", async () => {
    const other = makeCA(dir, 'other-ca');
    for (const flags of [[`-rootCAPath=${other.cert}`], []]) {
      const node = new StewardProcess({
        name: 'ship3',
        central: 'central',
        brokerUrl: `127.0.0.1:${fleet.nats.port}`,
        flags: [`-nkeySeedFile=${keys.ship3.seedFile}`, ...flags],
      });
      try {
        await node.start({ waitConnected: false });
        await assertKeepsRetrying(
          node,
          flags.length > 0
            ? /^TLS: the broker's certificate could not be verified with the CA in -rootCAPath \(.+\)$/
            : /^TLS: the broker's certificate could not be verified \(.+\); give the CA that signed it with -rootCAPath$/,
        );
        assert.doesNotMatch(node.stderr, /"msg":"connected to the broker"/);
      } finally {
        await node.stop();
        node.cleanup();
      }
    }
  });

  it('keeps retrying with a clear log line when the broker does not know the key', async () => {
    const stranger = makeNkeyUser(dir, 'stranger');
    const node = new StewardProcess({
      name: 'ship3',
      central: 'central',
      brokerUrl: `127.0.0.1:${fleet.nats.port}`,
      flags: [`-nkeySeedFile=${stranger.seedFile}`, `-rootCAPath=${ca.cert}`],
    });
    try {
      await node.start({ waitConnected: false });
      await assertKeepsRetrying(
        node,
        /^the broker refused the connection \(Authorization Violation\): is this node's public key in its authorization block\?$/,
      );
    } finally {
      await node.stop();
      node.cleanup();
    }
  });
});

describe('bad security files', () => {
  let dir: string;
  let ca: CertFiles;
  let client: CertFiles;
  let seed: string;

  before(() => {
    dir = tmp('badfiles');
    ca = makeCA(dir, 'ca');
    client = issueCert(dir, ca, 'client', 'client');
    seed = makeNkeyUser(dir, 'ship1').seedFile;
    fs.writeFileSync(path.join(dir, 'garbage.nk'), 'not a seed\n');
    fs.mkdirSync(path.join(dir, 'a-folder'));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: [string, (d: string) => string[], RegExp][] = [
    [
      'a missing seed file',
      (d) => [`-nkeySeedFile=${d}/missing.nk`],
      /^steward: -nkeySeedFile=.*\/missing\.nk: the file does not exist\n$/,
    ],
    [
      'a relative missing seed file',
      () => ['-nkeySeedFile=keys/ship1.nk'],
      /^steward: -nkeySeedFile=keys\/ship1\.nk: the file does not exist \(looked in \/.*\/keys\/ship1\.nk\)\n$/,
    ],
    [
      'a seed file that holds no seed',
      (d) => [`-nkeySeedFile=${d}/garbage.nk`],
      /^steward: -nkeySeedFile=.*garbage\.nk: the file holds no nkey seed \(a line starting with SU\)\n$/,
    ],
    ['a certificate given as seed file', (d) => [`-nkeySeedFile=${d}/ca.pem`], /: the file holds no nkey seed/],
    [
      'a folder given as seed file',
      (d) => [`-nkeySeedFile=${d}/a-folder`],
      /^steward: -nkeySeedFile=.*a-folder: this is a folder, not a file\n$/,
    ],
    ['a missing root CA', (d) => [`-rootCAPath=${d}/nope.pem`], /^steward: -rootCAPath=.*nope\.pem: the file does not exist\n$/],
    [
      'a seed given as root CA',
      (d) => [`-rootCAPath=${d}/ship1.nk`],
      /^steward: -rootCAPath=.*ship1\.nk: the file is not a PEM certificate \(no -----BEGIN CERTIFICATE----- block\)\n$/,
    ],
    [
      'a client certificate without its key',
      (d) => [`-tlsCertPath=${d}/client.pem`],
      /^steward: -tlsCertPath=.*client\.pem needs -tlsKeyPath/,
    ],
    [
      'a key that is not PEM',
      (d) => [`-tlsCertPath=${d}/client.pem`, `-tlsKeyPath=${d}/ship1.nk`],
      /^steward: -tlsKeyPath=.*ship1\.nk: the file is not a PEM private key/,
    ],
    [
      'a key of another certificate',
      (d) => [`-tlsCertPath=${d}/client.pem`, `-tlsKeyPath=${d}/ca.key`],
      /^steward: -tlsKeyPath=.*ca\.key: this key does not belong to the certificate in -tlsCertPath=/,
    ],
  ];

  for (const [what, flags, expected] of cases) {
    it(`stops at start with exit code 2 and one clear line for ${what}`, () => {
      const cwd = tmp('badstart');
      try {
        const r = spawnSync(STEWARD_BIN, ['-nodeName=ship1', '-centralNodeName=central', ...flags(dir)], {
          cwd,
          env: { ...process.env, CONFIG_FOLDER: './etc/' },
          encoding: 'utf8',
          timeout: 20_000,
        });
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, expected);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        assert.equal(fs.existsSync(path.join(cwd, 'etc', 'config.toml')), false, 'a bad value is not written to config.toml');
      } finally {
        fs.rmSync(cwd, { recursive: true, force: true });
      }
    });
  }

  it('starts with good files (the cases above fail for the reason they name)', async () => {
    const node = new StewardProcess({
      name: 'ship1',
      central: 'central',
      brokerUrl: '127.0.0.1:1',
      flags: [`-nkeySeedFile=${seed}`, `-rootCAPath=${ca.cert}`, `-tlsCertPath=${client.cert}`, `-tlsKeyPath=${client.key}`],
    });
    try {
      await node.start({ waitConnected: false });
      assert.ok(node.running);
    } finally {
      await node.stop();
      node.cleanup();
    }
  });
});

describe('a node with TLS files and a broker without TLS', () => {
  it('keeps retrying with a line that says the broker offers no TLS', async () => {
    const dir = tmp('notls');
    const nats = await NatsServer.start();
    const node = new StewardProcess({
      name: 'ship1',
      central: 'central',
      brokerUrl: `127.0.0.1:${nats.port}`,
      flags: [`-rootCAPath=${makeCA(dir, 'ca').cert}`],
    });
    try {
      await node.start({ waitConnected: false });
      await assertKeepsRetrying(node, /^the broker does not offer TLS \(.+\), but this node has -rootCAPath or -tlsCertPath/);
    } finally {
      await node.stop();
      node.cleanup();
      await nats.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('nkeys without TLS, with allow_responses instead of _INBOX.> for the ACK answers', () => {
  let dir: string;
  let fleet: Fleet;

  before(async () => {
    dir = tmp('nkeys');
    const central = makeNkeyUser(dir, 'central');
    const ship1 = makeNkeyUser(dir, 'ship1');
    fleet = await startFleet(['central', 'ship1'], {
      natsArgs: natsConf(dir, authorization(central, { ship1 }, { allowResponses: true })),
      flags: ['-startPubREQHello=0'],
      flagsFor: { central: [`-nkeySeedFile=${central.seedFile}`], ship1: [`-nkeySeedFile=${ship1.seedFile}`] },
    });
  });

  after(async () => {
    await fleet?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs a command on ship1 and brings its output back', async () => {
    const [central] = fleet.nodes as [StewardProcess];
    const [answer] = await central.send(JSON.stringify(cmd('ship1', ['echo', 'nkey only'], { ACKTimeout: 5, retries: 0 })));
    assert.equal(answer?.status, 'accepted');
    assert.equal(await eventually(() => central.readData('results', 'ship1', 'out.txt'), { what: 'the reply on central' }), 'nkey only\n');
  });
});

describe('a broker that requires client certificates (mutual TLS)', () => {
  let dir: string;
  let ca: CertFiles;
  let fleet: Fleet;

  before(async () => {
    dir = tmp('mtls');
    ca = makeCA(dir, 'ca');
    const server = issueCert(dir, ca, 'server', 'server');
    const clientFlags = (name: string): string[] => {
      const c = issueCert(dir, ca, `${name}-client`, 'client');
      return [`-rootCAPath=${ca.cert}`, `-tlsCertPath=${c.cert}`, `-tlsKeyPath=${c.key}`];
    };
    fleet = await startFleet(['central', 'ship1'], {
      natsArgs: natsConf(dir, tlsBlock(server, ca)),
      flags: ['-startPubREQHello=0'],
      flagsFor: { central: clientFlags('central'), ship1: clientFlags('ship1') },
    });
  });

  after(async () => {
    await fleet?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs a command on ship1 when every node has a client certificate', async () => {
    const [central] = fleet.nodes as [StewardProcess];
    const [answer] = await central.send(JSON.stringify(cmd('ship1', ['echo', 'mutual TLS'], { directory: 'mtls' })));
    assert.equal(answer?.status, 'accepted');
    assert.equal(await eventually(() => central.readData('mtls', 'ship1', 'out.txt'), { what: 'the reply on central' }), 'mutual TLS\n');
  });

  it('keeps retrying with a hint to give a client certificate when a node has none', async () => {
    const node = new StewardProcess({
      name: 'ship2',
      central: 'central',
      brokerUrl: `127.0.0.1:${fleet.nats.port}`,
      flags: [`-rootCAPath=${ca.cert}`, '-natsConnOptTimeout=1'],
    });
    try {
      await node.start({ waitConnected: false });
      await assertKeepsRetrying(
        node,
        /^timeout: no answer from the broker within 1 s; if it requires TLS client certificates, give -tlsCertPath and -tlsKeyPath$/,
      );
    } finally {
      await node.stop();
      node.cleanup();
    }
  });
});
