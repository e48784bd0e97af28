import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../support/eventually.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { STEWARD_BIN, type StewardProcess } from '../support/steward.js';

interface Run {
  code: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  kill: (sig: NodeJS.Signals) => void;
}

/** Runs an operator command as a user would, in `cwd`. */
function steward(args: string[], cwd: string): Run {
  const p = spawn(STEWARD_BIN, args, { cwd, env: { ...process.env, CONFIG_FOLDER: './etc/' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return {
    code: new Promise((r) => p.on('exit', (c) => r(c ?? 128 + 2))),
    stdout: () => out,
    stderr: () => err,
    kill: (sig) => p.kill(sig),
  };
}

async function done(r: Run): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const code = await r.code;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

describe('operator commands against real nodes', () => {
  let fleet: Fleet;
  let central: StewardProcess;
  let ship2: StewardProcess;

  before(async () => {
    fleet = await startFleet(['central', 'ship1', 'ship2'], { flags: ['-startPubREQHello=1'] });
    [central, , ship2] = fleet.nodes as [StewardProcess, StewardProcess, StewardProcess];
  });

  after(() => fleet?.close());

  it("send prints each node's output and a summary, and exits 0 when all replied", async () => {
    const r = await done(
      steward(['send', '--to', 'ship1,ship2', '--', 'bash', '-c', 'echo out-of-$(basename $PWD | cut -d- -f2)'], central.dir),
    );
    assert.equal(r.code, 0, r.stderr);
    // Two nodes make a job: its id first, the outputs, then its summary.
    const job = /^job ([0-9A-Z]{26})$/m.exec(r.stdout)?.[1];
    assert.ok(job, r.stdout);
    assert.match(r.stdout, new RegExp(`--- ship1 \\(${job}-t0\\)\nout-of-ship1\n`));
    assert.match(r.stdout, new RegExp(`--- ship2 \\(${job}-t1\\)\nout-of-ship2\n`));
    assert.match(r.stderr, new RegExp(`^job ${job}: done in [\\d.]+ s, 2 node\\(s\\): 2 ok$`, 'm'));
    // The replies were also written where the README says.
    assert.equal(central.readData('send', 'ship1', 'REQCliCommand.log').includes('out-of-ship1'), true);
  });

  it('send --file sends any message file (YAML here) and waits for its reply', async () => {
    const file = path.join(central.dir, 'msg.yaml');
    fs.writeFileSync(
      file,
      '- toNode: ship2\n  method: REQCliCommand\n  methodArgs: [echo, from-file]\n  directory: files\n  fileName: out.txt\n',
    );
    const r = await done(steward(['send', '--file', file], central.dir));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--- ship2 \([0-9A-Z]{26}\)\nfrom-file\n/);
    assert.equal(central.readData('files', 'ship2', 'out.txt'), 'from-file\n');
  });

  it('send --json prints one JSON object per reply', async () => {
    const r = await done(steward(['send', '--json', '--to', 'ship1', '--', 'echo', 'json-mode'], central.dir));
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 1);
    assert.deepEqual(
      { node: lines[0]?.node, status: lines[0]?.status, output: lines[0]?.output },
      { node: 'ship1', status: 'replied', output: 'json-mode\n' },
    );
  });

  it('send exits 1 and shows the error when a command fails or a node is unreachable', async () => {
    const r = await done(
      steward(
        ['send', '--to', 'ship1,nosuchnode', '--retries', '1', '--ack-timeout', '1', '--', 'bash', '-c', 'echo bad >&2; exit 4'],
        central.dir,
      ),
    );
    assert.equal(r.code, 1);
    assert.match(r.stdout, /--- ship1 error: .*command exited with code 4.*error_output: bad/);
    assert.match(r.stdout, /--- nosuchnode failed: max retries reached after 2 attempts/);
    assert.match(r.stderr, /: done in [\d.]+ s, 2 node\(s\): 1 error, 1 not responding$/m);
    assert.match(r.stderr, /^failed: ship1: error: REQCliCommand: command exited with code 4/m);
    assert.match(r.stderr, /^no responses from: nosuchnode$/m);
  });

  it('send waits for a node that is offline when it starts, and finishes when the node is back', async () => {
    await ship2.stop();
    const run = steward(
      ['send', '--to', 'ship1,ship2', '--retries', '-1', '--ack-timeout', '1', '--', 'echo', 'late-but-there'],
      central.dir,
    );
    await eventually(() => run.stdout().includes('--- ship1'), { what: 'ship1 output' });
    // ship2 is said not to respond (yet); its output comes once it is back.
    await eventually(() => run.stdout().includes('--- ship2 not responding: no subscriber for ship2.'), { what: 'ship2 not responding' });
    assert.equal(run.stdout().includes('--- ship2 ('), false);
    await ship2.start();
    const r = await done(run);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--- ship2 \([0-9A-Z]{26}-t1\)\nlate-but-there\n/);
  });

  it('nodes lists every node central heard from, online or offline', async () => {
    await eventually(async () => (await done(steward(['nodes'], central.dir))).stdout.includes('ship2    online'), {
      what: 'ship2 online',
    });
    await ship2.stop();
    const offline = await eventually(
      async () => {
        const r = await done(steward(['nodes', '--json', '--sort', 'state'], central.dir));
        const rows = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { node: string; online: boolean });
        return rows.find((x) => x.node === 'ship2' && !x.online) && rows;
      },
      { what: 'ship2 offline', timeoutMs: 20_000 },
    );
    assert.deepEqual(
      offline.map((x) => x.node),
      ['ship2', 'central', 'ship1'],
    );
    await ship2.start();
  });

  it('queue shows pending messages with attempts, cancel drops them like a failure, status tells the story', async () => {
    const sent = await done(
      steward(['send', '--no-wait', '--to', 'ghost', '--retries', '-1', '--ack-timeout', '2', '--', 'echo', 'never'], central.dir),
    );
    assert.equal(sent.code, 0, sent.stderr);
    const id = sent.stdout.split(/\s+/)[0] as string;
    const waiter = steward(['send', '--to', 'ghost', '--retries', '-1', '--ack-timeout', '2', '--', 'echo', 'never-either'], central.dir);
    const q = await eventually(
      async () => {
        const r = await done(steward(['queue'], central.dir));
        return /ghost: 2 pending/.test(r.stdout) && r.stdout;
      },
      { what: 'the queue' },
    );
    assert.match(q, new RegExp(`${id}\\s+REQCliCommand\\s+\\d+/inf\\s+(in \\d+s|now)\\s+no subscriber for ghost.REQCliCommand.CommandACK`));
    const st = await done(steward(['status', id], central.dir));
    assert.match(st.stdout, /state {5}pending/);
    const c = await done(steward(['cancel', '--to', 'ghost'], central.dir));
    assert.equal(c.code, 0);
    assert.equal(c.stdout.match(/ cancelled\n/g)?.length, 2);
    const w = await done(waiter);
    assert.equal(w.code, 1);
    assert.match(w.stdout, /--- ghost failed: cancelled/);
    assert.match((await done(steward(['status', id], central.dir))).stdout, /state {5}cancelled at /);
    assert.match((await done(steward(['queue'], central.dir))).stdout, /nothing pending/);
    const log = await eventually(() => central.readErrorLog().includes(`id: ${id}`) && central.readErrorLog());
    assert.match(log, new RegExp(`method: REQCliCommand, id: ${id}, attempts: \\d+: cancelled by an operator before it was delivered`));
    const again = await done(steward(['cancel', id], central.dir));
    assert.equal(again.code, 1);
    assert.match(again.stdout, /not cancelled \(cancelled\)/);
  });

  it('leaves the messages in flight on Ctrl-C and prints their ids', async () => {
    const run = steward(['send', '--to', 'ghost2', '--retries', '-1', '--ack-timeout', '1', '--', 'echo', 'x'], central.dir);
    await eventually(async () => /ghost2: 1 pending/.test((await done(steward(['queue'], central.dir))).stdout), { what: 'ghost2 queued' });
    run.kill('SIGINT');
    const r = await done(run);
    assert.equal(r.code, 130);
    assert.match(r.stderr, /1 message\(s\) still in flight, not cancelled:\n {2}[0-9A-Z]{26} {2}ghost2/);
    assert.match((await done(steward(['queue'], central.dir))).stdout, /ghost2: 1 pending/);
    await done(steward(['cancel', '--to', 'ghost2'], central.dir));
  });

  it('says what to do when there is no daemon, and refuses bad usage', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-nodaemon-'));
    const r = await done(steward(['nodes'], empty));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^steward: no steward daemon at tmp\/steward.sock: is the daemon running in this folder\?/);
    const u = await done(steward(['send', '--', 'uptime'], central.dir));
    assert.equal(u.code, 2);
    assert.match(u.stderr, /say which nodes: --to ship1,ship2/);
    const bad = await done(steward(['send', '--to', 'ship1', '--timeout', 'soon', '--', 'uptime'], central.dir));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--timeout takes a whole number, got "soon"/);
    fs.rmSync(empty, { recursive: true, force: true });
  });
});
