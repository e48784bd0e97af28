import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { parseFlags } from '../../src/config/flags.js';
import { loadConfig } from '../../src/config/load.js';
import { StewardNode } from '../../src/node/node.js';
import { loadIdentity } from '../../src/trust/identity.js';
import type { SyncFile } from '../../src/store/db.js';
import { eventually, sleep } from '../support/eventually.js';
import { NatsServer } from '../support/nats-server.js';
import { cmd, StewardProcess } from '../support/steward.js';

/**
 * Central runs in this process with its store's syncs in the test's hands; ship1 is a real
 * steward process. What is checked is what a user sees: whether the command ran on ship1, and
 * what the input answered.
 */
describe('sending while the store makes the commit durable', () => {
  let nats: NatsServer;
  let ship1: StewardProcess;
  let dir: string;
  let central: StewardNode;
  let mode: 'pass' | 'hold' | 'fail' = 'pass';
  const held: ((err: NodeJS.ErrnoException | null) => void)[] = [];
  const syncFile: SyncFile = (fd, done) => {
    if (mode === 'hold') held.push(done);
    else if (mode === 'fail') done(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    else fs.fdatasync(fd, done);
  };

  before(async () => {
    nats = await NatsServer.start();
    ship1 = await StewardProcess.start({ name: 'ship1', central: 'central', brokerUrl: nats.url, flags: ['-startPubREQHello=0'] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-central-'));
    const { values } = parseFlags([
      '-nodeName=central',
      '-centralNodeName=central',
      `-brokerAddress=${nats.url}`,
      '-startPubREQHello=0',
      `-socketFolder=${path.join(dir, 'tmp')}`,
      `-databaseFolder=${path.join(dir, 'var')}`,
      `-subscribersDataFolder=${path.join(dir, 'data')}`,
    ]);
    const cfg = loadConfig(path.join(dir, 'etc'), values);
    central = new StewardNode({ cfg, logger: pino({ level: 'silent' }), identity: loadIdentity(cfg), storeOptions: { syncFile } });
    await central.start();
  });

  after(async () => {
    mode = 'pass';
    for (const done of held.splice(0)) done(null);
    await central.stop();
    await ship1.stop();
    await nats.close();
    ship1.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const runOnShip1 = (marker: string, line: string): Buffer =>
    Buffer.from(JSON.stringify([cmd('ship1', ['sh', '-c', `echo ${line} >> ${marker}`], { replyMethod: 'REQNone' })]));

  it('sends a message once it is committed, and answers "accepted" only once it is durable', async () => {
    const marker = path.join(ship1.dir, 'ran-1');
    mode = 'hold';
    let answered = false;
    const answer = central.accept(runOnShip1(marker, 'one')).finally(() => (answered = true));
    await eventually(() => fs.existsSync(marker), { what: 'the command to run on ship1 while central syncs' });
    await sleep(50);
    assert.equal(answered, false, 'no "accepted" before the commit is durable');
    assert.ok(held.length >= 1, 'central is waiting for its sync');
    mode = 'pass';
    for (const done of held.splice(0)) done(null);
    const lines = await answer;
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.status, 'accepted', JSON.stringify(lines));
    assert.equal(fs.readFileSync(marker, 'utf8'), 'one\n');
  });

  it('tells the client when the commit could not be made durable, and that the message may still arrive', async () => {
    const marker = path.join(ship1.dir, 'ran-2');
    mode = 'fail';
    const lines = await central.accept(runOnShip1(marker, 'two'));
    mode = 'pass';
    assert.equal(lines[0]?.status, 'error', JSON.stringify(lines));
    const error = lines[0]?.status === 'error' ? lines[0].error : '';
    assert.match(error, /not accepted, the store failed: the store's commit could not be made durable: EIO/);
    assert.match(error, /its delivery had begun: it may still be delivered/);
    // It had been sent: it ran, once.
    await eventually(() => fs.existsSync(marker), { what: 'the command to run on ship1' });
    await sleep(200);
    assert.equal(fs.readFileSync(marker, 'utf8'), 'two\n');
  });
});
