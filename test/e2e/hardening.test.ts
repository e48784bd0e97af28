import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { newMessage, type Message } from '../../src/message/message.js';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { freePorts } from '../support/ports.js';
import { helloFromNewNames, RogueNode } from '../support/rogue.js';
import { sendToSocket, type StewardProcess } from '../support/steward.js';

/** Runs `node -e script` as the unprivileged user nobody (uid 65534): what any local account can do. */
function asNobody(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script],
      { timeout: 30_000 },
      (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`${err.message}\n${stderr}`))),
    );
  });
}

/** Peak RSS of a process in MB since the last reset (reset: write 5 to clear_refs). */
function peakRssMb(pid: number, reset = false): number {
  if (reset) fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/**
 * What an unprivileged local user, or a client holding ship1's own key (proving its messages
 * correctly), can make a node spend: each attempt is one clear refusal, and good messages still go.
 */
describe('hardening: inputs, bombs, floods, disk, files', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship1: StewardProcess;
  let ship2: StewardProcess;
  let tcpPort: number;
  let httpPort: number;
  let rogue: RogueNode;
  let token: string;
  const good = (tag: string): string =>
    JSON.stringify({ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['echo', tag], directory: 'h', fileName: `${tag}.txt` });

  before(async () => {
    [tcpPort = 0, httpPort = 0] = await freePorts(2);
    fleet = await startFleet(['central', 'ship1', 'ship2'], {
      flags: ['-startPubREQHello=1'],
      flagsFor: {
        central: [`-tcpListener=127.0.0.1:${tcpPort}`, `-httpListener=127.0.0.1:${httpPort}`],
        ship2: ['-minFreeDiskMB=100000000'],
      },
    });
    [central, ship1, ship2] = fleet.nodes as [StewardProcess, StewardProcess, StewardProcess];
    token = fs.readFileSync(path.join(central.dir, 'etc', 'token'), 'utf8').trim();
    await eventually(() => fs.existsSync(path.join(central.dataDir, 'hello-messages', 'ship1')), { what: "ship1's hello" });
    rogue = await RogueNode.connect(fleet.nats.url, 'ship1', RogueNode.identityOf(ship1.dir));
  });

  after(async () => {
    await rogue?.close();
    await fleet?.close();
  });

  it('refuses TCP and HTTP input from a local user without the token, cross-site or of another type', async () => {
    const tcp = await asNobody(
      `const c=require('net').connect(${tcpPort},'127.0.0.1');let o='';c.on('data',b=>o+=b);c.on('end',()=>process.stdout.write(o));c.end(${JSON.stringify(good('nobody-tcp'))})`,
    );
    assert.match(tcp, /"status":"error".*unauthenticated: send the operator token as the first line/);
    const http = await asNobody(
      `fetch('http://127.0.0.1:${httpPort}/messages',{method:'POST',headers:{'content-type':'application/json'},body:${JSON.stringify(good('nobody-http'))}}).then(async r=>process.stdout.write(r.status+' '+await r.text()))`,
    );
    assert.match(http, /^401 .*unauthenticated: give the operator token/);
    const post = (headers: Record<string, string>, p = '/messages'): Promise<Response> =>
      fetch(`http://127.0.0.1:${httpPort}${p}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
        body: good('h'),
      });
    assert.equal((await post({ origin: 'http://evil.example' })).status, 403);
    assert.equal((await post({ 'content-type': 'text/plain' })).status, 415);
    assert.equal((await post({}, '/')).status, 404);
    assert.equal((await post({ authorization: 'Bearer wrong' })).status, 401);
    // With the token, both take the message (and the good one runs).
    const ok = await post({});
    assert.equal(ok.status, 202);
    const viaTcp = await new Promise<string>((resolve) => {
      const c = net.connect(tcpPort, '127.0.0.1');
      let o = '';
      c.on('data', (b: Buffer) => (o += b.toString()));
      c.on('end', () => resolve(o));
      c.end(`${token}\n${good('with-token')}`);
    });
    assert.match(viaTcp, /"status":"accepted"/);
    await eventually(() => central.readData('h', 'ship1', 'with-token.txt') === 'with-token\n', { what: 'the TCP message to run' });
    assert.equal(central.readData('h', 'ship1', 'nobody-tcp.txt'), '');
  });

  it('refuses gzip and zstd bombs from ship1 without inflating them, and answers its socket meanwhile', async () => {
    const zeros = Buffer.alloc(300 * 1024 * 1024);
    const bombs = [
      { cmp: 'g', payload: gzipSync(zeros, { level: 9 }) },
      { cmp: 'z', payload: zstdCompressSync(zeros) },
    ];
    const before = peakRssMb(central.pid as number, true);
    const answers: number[] = [];
    for (const b of bombs) {
      const started = performance.now();
      const [ack, lines] = await Promise.all([
        rogue.requestRaw('central.REQToFileAppend.EventACK', 'central', b.payload, { serial: 'cbor', cmp: b.cmp }),
        sendToSocket(central.socketPath, good(`during-${b.cmp}`)),
      ]);
      answers.push(performance.now() - started);
      assert.match(ack, /cannot decompress payload \(cmp=[gz]\): it inflates beyond \d+ bytes/, `${b.cmp}: ${ack.slice(0, 300)}`);
      assert.equal(lines[0]?.status, 'accepted');
    }
    const peak = peakRssMb(central.pid as number);
    console.log(
      `bombs: ${bombs.map((b) => `${b.cmp} ${b.payload.length} bytes`).join(', ')}; central peak RSS ${before.toFixed(1)} -> ${peak.toFixed(1)} MB; socket+ACK answered in ${answers.map((a) => a.toFixed(1)).join(', ')} ms`,
    );
    assert.ok(central.running);
  });

  it('caps the error lines and hellos another node may send, and counts the rest in one line', async () => {
    const before = central.readErrorLog().length;
    const t0 = performance.now();
    const flood = Array.from({ length: 400 }, (_, i) =>
      rogue.request(
        'central.REQErrorLog.EventACK',
        newMessage({
          toNode: 'central',
          fromNode: 'ship1',
          method: 'REQErrorLog',
          ackTimeoutMs: 5000,
          retries: 0,
          data: [`error: flood ${i} ${'x'.repeat(1000)}`],
        }),
      ),
    );
    const acks = (await Promise.all(flood)).map((a) => JSON.parse(a) as { status: string; error?: string });
    const refused = acks.filter((a) => a.status === 'rejected');
    // Central takes 100 at once, then 100 a second: how many it may take depends on how long it
    // took to answer them all (on a loaded machine, more than a second).
    const seconds = (performance.now() - t0) / 1000;
    assert.ok(refused.length > 0, `none of 400 refused in ${seconds.toFixed(1)} s`);
    assert.ok(400 - refused.length <= 100 + Math.ceil(100 * seconds), `${400 - refused.length} of 400 taken in ${seconds.toFixed(1)} s`);
    assert.match(refused[0]?.error ?? '', /over the limit of error lines a second from ship1/);
    await eventually(
      () =>
        /error: \d+ error lines from ship1 were refused in the last 10 s \(over 100 error lines a second\)/.test(central.readErrorLog()),
      {
        what: 'the summary line',
        timeoutMs: 30_000,
      },
    );
    const grown = central.readErrorLog().length - before;
    console.log(
      `error flood: ${400 - refused.length} of 400 lines of 1 KB taken in ${seconds.toFixed(2)} s, error log grew ${grown} bytes`,
    );
    // Hellos from 30 new names (each proven by its own fresh key): at most 10 new names a minute.
    await helloFromNewNames(fleet.nats.url, 'minted', 30);
    const folders = (): string[] => fs.readdirSync(path.join(central.dataDir, 'hello-messages')).filter((n) => n.startsWith('minted'));
    await eventually(() => central.readErrorLog().includes('too many new node names'), { what: 'new names refused' });
    assert.ok(folders().length <= 10, `${folders().length} hello folders for minted names`);
  });

  it('refuses result writes when the data folder is short of room, and tells the sender', async () => {
    const [line] = await central.send(
      JSON.stringify({ toNode: 'ship2', method: 'REQToFile', data: ['x'], directory: 'full', fileName: 'f.txt', replyMethod: 'REQNone' }),
    );
    assert.equal(line?.status, 'accepted');
    const err = await eventually(
      () =>
        central
          .readErrorLog()
          .split('\n')
          .find((l) => l.includes('has') && l.includes('less than -minFreeDiskMB=100000000')),
      {
        what: 'the refusal at central',
      },
    );
    assert.match(err, /the data folder of ship2 has \d+ MB free, less than -minFreeDiskMB=100000000: not written/);
    assert.equal(fs.existsSync(path.join(ship2.dataDir, 'full')), false);
  });

  it('writes no result through a symlink planted in the data folder', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-outside-'));
    try {
      fs.mkdirSync(path.join(central.dataDir, 'planted'), { recursive: true });
      fs.symlinkSync(outside, path.join(central.dataDir, 'planted', 'ship1'));
      fs.mkdirSync(path.join(central.dataDir, 'planted2', 'ship1'), { recursive: true });
      fs.symlinkSync(path.join(outside, 'target.txt'), path.join(central.dataDir, 'planted2', 'ship1', 'out.txt'));
      for (const dir of ['planted', 'planted2']) {
        await central.send(
          JSON.stringify({
            toNode: 'ship1',
            method: 'REQCliCommand',
            methodArgs: ['echo', 'escaped'],
            directory: dir,
            fileName: 'out.txt',
          }),
        );
      }
      await eventually(() => (central.readErrorLog().match(/leads outside the folders steward writes into|ELOOP/g) ?? []).length >= 2, {
        what: 'both writes refused',
      });
      assert.deepEqual(fs.readdirSync(outside), []);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('copies only under -copyDestinations, and never a setuid bit', async () => {
    const src = path.join(ship2.dir, 'suid.sh'); // from ship2 (reading needs no room) to ship1
    fs.writeFileSync(src, '#!/bin/sh\n', { mode: 0o4755 });
    fs.chmodSync(src, 0o4755);
    const inside = path.join(ship1.dataDir, 'copies', 'suid.sh');
    for (const dst of ['/etc/steward-evil', inside]) {
      await central.send(
        JSON.stringify({
          toNode: 'ship2',
          method: 'REQCopyFileFrom',
          methodArgs: [src, 'ship1', dst],
          directory: 'copy',
          fileName: 'c.log',
        }),
      );
    }
    await eventually(() => central.readErrorLog().includes('writes copies only under'), { what: 'the copy outside refused' });
    await eventually(() => fs.existsSync(inside), { what: 'the copy inside' });
    assert.equal(fs.statSync(inside).mode & 0o7777, 0o755);
    assert.equal(fs.existsSync('/etc/steward-evil'), false);
  });

  it("keeps the store, the audit log, the token and the node's folders to its own user", () => {
    for (const f of [
      'var/lib/steward.db',
      'var/lib/steward.db-wal',
      'var/lib/steward.db-shm',
      'var/lib/audit.log',
      'etc/token',
      'etc/identity.nk',
    ]) {
      const file = path.join(central.dir, f);
      if (fs.existsSync(file)) assert.equal(fs.statSync(file).mode & 0o777, 0o600, f);
    }
    for (const d of ['etc', 'var/lib', 'data']) assert.equal(fs.statSync(path.join(central.dir, d)).mode & 0o777, 0o700, d);
  });
});

export type { Message };
