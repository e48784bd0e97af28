import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { freePorts } from '../support/ports.js';
import { helloFromNewNames } from '../support/rogue.js';
import { sendToTcp, type StewardProcess } from '../support/steward.js';

/** A POST of `body` to /messages with no Authorization header. */
function postWithoutToken(port: number, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/messages', headers: { 'content-type': 'application/json' } },
      (res) => {
        let out = '';
        res.on('data', (b: Buffer) => (out += b.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: out }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Flags whose effect no other test ran. Here: -defaultMethodTimeout (the methodTimeout of a message that gives
 * none) and -inputAuth=none (TCP and HTTP inputs without the operator token).
 */
describe('-defaultMethodTimeout and -inputAuth=none', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let tcpPort = 0;
  let httpPort = 0;
  const marker = path.join(os.tmpdir(), `steward-default-timeout-${process.pid}`);
  const cmd = (tag: string, args: string[]): Record<string, unknown> => ({
    toNode: 'ship1',
    method: 'REQCliCommand',
    methodArgs: args,
    directory: 'defaults',
    fileName: `${tag}.txt`,
  });

  before(async () => {
    [tcpPort = 0, httpPort = 0] = await freePorts(2);
    fleet = await startFleet(['central', 'ship1'], {
      flags: ['-startPubREQHello=0'],
      flagsFor: {
        central: ['-defaultMethodTimeout=1', '-inputAuth=none', `-tcpListener=127.0.0.1:${tcpPort}`, `-httpListener=127.0.0.1:${httpPort}`],
      },
    });
    [central] = fleet.nodes as [StewardProcess];
  });

  after(async () => {
    await fleet?.close();
    fs.rmSync(marker, { force: true });
  });

  it('stops a command that gives no methodTimeout after -defaultMethodTimeout seconds, and says so', async () => {
    const [answer] = await central.send(JSON.stringify([cmd('slow', ['bash', '-c', `sleep 4; touch ${marker}`])]));
    assert.equal(answer?.status, 'accepted', JSON.stringify(answer));
    const line = await central.errorLogLine('method timed out after 1 s');
    assert.match(line, /REQCliCommand: method timed out after 1 s and was killed/);
    await new Promise((r) => setTimeout(r, 4_500));
    assert.equal(fs.existsSync(marker), false, 'the command was killed before it could finish');
  });

  it('keeps a methodTimeout the message gives', async () => {
    const [answer] = await central.send(
      JSON.stringify([{ ...cmd('given', ['bash', '-c', 'sleep 2; echo done-late']), methodTimeout: 10 }]),
    );
    assert.equal(answer?.status, 'accepted', JSON.stringify(answer));
    const out = await eventually(() => central.readData('defaults', 'ship1', 'given.txt'), { what: 'the late output', timeoutMs: 30_000 });
    assert.equal(out, 'done-late\n');
  });

  it('says at start that the inputs ask no token', () => {
    assert.match(central.stderr, /-inputAuth=none: the TCP and HTTP inputs take messages from anyone who can reach them/);
  });

  it('takes a message over HTTP with no Authorization header', async () => {
    const res = await postWithoutToken(httpPort, JSON.stringify([cmd('http', ['echo', 'via-http'])]));
    assert.equal(res.status, 202, res.body);
    const out = await eventually(() => central.readData('defaults', 'ship1', 'http.txt'), { what: 'the HTTP result', timeoutMs: 30_000 });
    assert.equal(out, 'via-http\n');
  });

  it('takes a message over TCP with no token line, and still refuses a bad one with its own answer', async () => {
    const lines = await sendToTcp(
      tcpPort,
      JSON.stringify([cmd('tcp', ['echo', 'via-tcp']), { toNode: 'ship1', method: 'REQnCliCommand' }]),
    );
    assert.deepEqual(
      lines.map((l) => l.status),
      ['accepted', 'error'],
      JSON.stringify(lines),
    );
    const out = await eventually(() => central.readData('defaults', 'ship1', 'tcp.txt'), { what: 'the TCP result', timeoutMs: 30_000 });
    assert.equal(out, 'via-tcp\n');
  });
});

/**
 * -trustNewKeysPerMinute raised (README: "to bring up a large fleet at once, raise it for the
 * time"): more new names are pinned within the minute than the default 10, and no more than it says.
 */
describe('-trustNewKeysPerMinute', () => {
  let fleet: Fleet;
  let central: StewardProcess;

  before(async () => {
    fleet = await startFleet(['central'], { flags: ['-startPubREQHello=0', '-trustNewKeysPerMinute=20'] });
    [central] = fleet.nodes as [StewardProcess];
  });

  after(async () => {
    await fleet?.close();
  });

  it('pins up to that many new names a minute (each proven by its own key), and refuses the rest for now', async () => {
    await helloFromNewNames(fleet.nats.url, 'fresh', 30);
    const folders = (): string[] => {
      const root = path.join(central.dataDir, 'hello-messages');
      return fs.existsSync(root) ? fs.readdirSync(root).filter((n) => n.startsWith('fresh')) : [];
    };
    // More than the default 10 are heard...
    await eventually(() => folders().length > 10, { what: 'more than 10 new names heard', timeoutMs: 30_000 });
    // ...and the rest refused for now: at most 20 within the minute.
    await eventually(() => central.readErrorLog().includes('too many new node names'), { what: 'new names refused', timeoutMs: 30_000 });
    const pinned = folders().length;
    assert.ok(pinned <= 20, `${pinned} new names heard: more than -trustNewKeysPerMinute=20`);
  });
});
