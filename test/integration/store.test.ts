import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { newId } from '../../src/message/id.js';
import type { Message } from '../../src/message/message.js';
import { FileWriter } from '../../src/store/files.js';
import { AuditLog } from '../../src/store/audit.js';
import { Db } from '../../src/store/db.js';
import { Inbox } from '../../src/store/inbox.js';
import { Outbox } from '../../src/store/outbox.js';
import { eventually } from '../support/eventually.js';
import { tempFolders } from '../support/temp.js';

const tmp = tempFolders('steward-store');

function msg(toNode: string, extra: Partial<Message> = {}): Message {
  return {
    id: newId(),
    toNode,
    fromNode: 'central',
    method: 'REQCliCommand',
    methodArgs: ['true'],
    replyMethod: 'REQToFileAppend',
    replyMethodArgs: [],
    isReply: false,
    data: [],
    ackTimeoutMs: 1000,
    retries: 1,
    replyAckTimeoutMs: 0,
    replyRetries: 0,
    methodTimeoutMs: 1000,
    replyMethodTimeoutMs: 0,
    directory: '',
    fileName: '',
    relayViaNode: '',
    relayReplyMethod: '',
    createdMs: Date.now(),
    ...extra,
  };
}

describe('the SQLite store', () => {
  it('keeps outbox messages across a reopen, per destination in order, and failed ones apart', async () => {
    const dir = tmp();
    let db = new Db(dir);
    let outbox = new Outbox(db);
    const a = [msg('ship1'), msg('ship2'), msg('ship1'), msg('ship1')];
    const added = await outbox.add(a);
    assert.deepEqual(
      added.map((e) => e?.seq),
      [1, 2, 3, 4],
    );
    assert.deepEqual(JSON.parse(added[0]?.json ?? ''), a[0], 'the stored JSON is the message');
    assert.deepEqual(await outbox.add([a[0] as Message]), [undefined], 'the same id is not stored twice');
    await outbox.failed((a[2] as Message).id, 3, 'max-retries', Date.now());
    await outbox.delivered((a[1] as Message).id, 1, Date.now());
    db.close();
    db = new Db(dir);
    outbox = new Outbox(db);
    assert.deepEqual(outbox.destinations(), ['ship1']);
    assert.deepEqual(
      outbox.pending('ship1', 0, 10).map((e) => e.message.id),
      [(a[0] as Message).id, (a[3] as Message).id],
    );
    assert.deepEqual(
      outbox.pending('ship1', 1, 10).map((e) => e.seq),
      [4],
    );
    assert.equal(outbox.pendingCount(), 2);
    db.close();
  });

  it('commits many writes asked for in one turn together, and one failing write does not undo the others', async () => {
    const db = new Db(tmp());
    const outbox = new Outbox(db);
    const writes = Array.from({ length: 100 }, () => outbox.add([msg('ship1')]));
    const bad = db.write(() => {
      throw new Error('boom');
    });
    await assert.rejects(bad, /boom/);
    assert.equal((await Promise.all(writes)).flat().length, 100);
    assert.equal(outbox.pendingCount(), 100);
    db.close();
  });

  it('recognises a received id again, also within one commit and after a reopen, and lists what was not finished', async () => {
    const dir = tmp();
    let db = new Db(dir);
    let inbox = new Inbox(db);
    const [m1, m2, m3] = [msg('ship1'), msg('ship1'), msg('ship1')];
    assert.deepEqual(await inbox.receive(m1, 1), { fresh: true, checkpoint: undefined });
    assert.deepEqual(await inbox.receive(m1, 2, () => 'never planned'), { fresh: false, checkpoint: undefined });
    const both = await Promise.all([inbox.receive(m2, 3, () => '{"x":1}'), inbox.receive(m2, 3, () => '{"x":2}')]);
    assert.deepEqual(
      both,
      [
        { fresh: true, checkpoint: '{"x":1}' },
        { fresh: false, checkpoint: undefined },
      ],
      'a copy in the same commit is not planned',
    );
    await inbox.receive(m3, 4);
    await inbox.started(m2.id);
    await inbox.finished(m3.id, 'done');
    db.close();
    db = new Db(dir);
    inbox = new Inbox(db);
    assert.equal(inbox.state(m3.id), 'done');
    assert.deepEqual(
      inbox.unfinished().map((u) => [u.message.id, u.state, u.checkpoint]),
      [
        [m1.id, 'received', undefined],
        [m2.id, 'started', '{"x":1}'],
      ],
    );
    db.close();
  });

  it('resolves a write only once an fdatasync of the WAL that began after its commit is done; commits what is asked for meanwhile together', async () => {
    const dir = tmp();
    const syncs: { file: string; done: (err: NodeJS.ErrnoException | null) => void }[] = [];
    const db = new Db(dir, { syncFile: (fd, done) => syncs.push({ file: fs.readlinkSync(`/proc/self/fd/${fd}`), done }) });
    const outbox = new Outbox(db);
    const resolved: string[] = [];
    const committed: string[] = [];
    const m1 = msg('ship1');
    const first = outbox
      .add([m1], (entries) => committed.push(...entries.map((e) => e?.message.id ?? '-')))
      .then(() => resolved.push('first'));
    await eventually(() => syncs.length === 1);
    assert.equal(syncs[0]?.file, path.join(dir, 'steward.db-wal'), 'the file synced is the WAL');
    // Committed (the row is there) but not yet durable: handed on for sending, not acknowledged.
    assert.deepEqual(committed, [m1.id]);
    assert.equal(outbox.pendingCount(), 1);
    assert.equal(outbox.pending('ship1', 0, 10).length, 1);
    // Writes asked for while a sync runs are committed when it ends, together, in the order
    // they were asked for: they could not be durable before the next sync anyway.
    const m2 = msg('ship1');
    const m3 = msg('ship1');
    const second = outbox
      .add([m2], (entries) => committed.push(...entries.map((e) => e?.message.id ?? '-')))
      .then(() => resolved.push('second'));
    await new Promise((r) => setTimeout(r, 10));
    const third = outbox
      .add([m3], (entries) => committed.push(...entries.map((e) => e?.message.id ?? '-')))
      .then(() => resolved.push('third'));
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(resolved, [], 'nothing resolves before its sync');
    assert.deepEqual(committed, [m1.id], 'not committed while the sync runs');
    assert.equal(syncs.length, 1, 'one sync at a time');
    syncs[0]?.done(null);
    await first;
    assert.deepEqual(committed, [m1.id, m2.id, m3.id], 'committed once the sync ended, in order');
    assert.deepEqual(resolved, ['first'], 'a commit made after a sync began is not covered by it');
    await eventually(() => syncs.length === 2);
    syncs[1]?.done(null);
    await Promise.all([second, third]);
    assert.deepEqual(resolved, ['first', 'second', 'third']);
    assert.equal(syncs.length, 2, 'one sync made both durable');
    assert.deepEqual(
      outbox.pending('ship1', 0, 10).map((e) => e.message.id),
      [m1.id, m2.id, m3.id],
    );
    // A sync that fails fails the writes that waited for it.
    const fourth = outbox.add([msg('ship1')]);
    await eventually(() => syncs.length === 3);
    syncs[2]?.done(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await assert.rejects(fourth, /could not be made durable.*EIO/);
    db.close();
  });

  it('makes what is committed durable at close, also while a sync is still out', async () => {
    const dir = tmp();
    let pendingSync: ((err: NodeJS.ErrnoException | null) => void) | undefined;
    let db = new Db(dir, { syncFile: (_fd, done) => (pendingSync = done) });
    const outbox = new Outbox(db);
    const m = msg('ship1');
    const added = outbox.add([m]);
    await eventually(() => pendingSync !== undefined);
    db.close();
    assert.equal((await added)[0]?.message.id, m.id, 'close settles the writes that waited for a sync');
    pendingSync?.(null); // the late callback changes nothing
    db = new Db(dir);
    assert.deepEqual(
      new Outbox(db).pending('ship1', 0, 10).map((e) => e.message.id),
      [m.id],
    );
    db.close();
  });
});

describe('planned appends', () => {
  it('writes each planned append at its own offset, so a redo after a crash does not append twice', async () => {
    const file = path.join(tmp(), 'a', 'out.log');
    const w = new FileWriter();
    const o1 = w.planAppend(file, 6);
    const o2 = w.planAppend(file, 6);
    await w.writeAt(file, o2, Buffer.from('second'));
    await Promise.all([w.writeAt(file, o1, Buffer.from('first\n')), w.writeAt(file, o2, Buffer.from('second'))]); // o2 redone
    w.release(file);
    w.release(file);
    assert.equal(fs.readFileSync(file, 'utf8'), 'first\nsecond');
    const after = new FileWriter();
    after.reserve(file, 12, 4); // a region planned before a restart, not yet written
    const o3 = after.planAppend(file, 3);
    assert.equal(o3, 16);
  });

  it('writes to the file the path names now: after a rotation the next append starts the new file', async () => {
    const file = path.join(tmp(), 'out.log');
    const w = new FileWriter();
    const append = async (text: string): Promise<void> => {
      const at = w.planAppend(file, text.length);
      await w.writeAt(file, at, Buffer.from(text));
      w.release(file);
    };
    await append('one\n');
    fs.renameSync(file, `${file}.1`); // as logrotate does, while the writer keeps the file open
    await append('two\n');
    await append('three\n');
    assert.equal(fs.readFileSync(`${file}.1`, 'utf8'), 'one\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'two\nthree\n');
    fs.rmSync(file);
    await append('four\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'four\n', 'a removed file is created again');
  });

  it('writes to many files at once, each its own data (more files than it keeps open)', async () => {
    const dir = tmp();
    const w = new FileWriter();
    const files = Array.from({ length: 100 }, (_, i) => path.join(dir, `n${i}`, 'r.txt'));
    // One event-loop turn: one batch over 100 files, while the syncs of the first ones still run.
    await Promise.all(
      files.map((f, i) => {
        const text = `reply of n${i}\n`;
        return w.writeAt(f, w.planAppend(f, text.length), Buffer.from(text)).finally(() => w.release(f));
      }),
    );
    for (const [i, f] of files.entries()) assert.equal(fs.readFileSync(f, 'utf8'), `reply of n${i}\n`, f);
  });

  it('replaces a file whole, in the order the replacements were asked for', async () => {
    const file = path.join(tmp(), 'sub', 'state.txt');
    const w = new FileWriter();
    await Promise.all(Array.from({ length: 20 }, (_, i) => w.replace(file, Buffer.from(`v${i}`))));
    assert.equal(fs.readFileSync(file, 'utf8'), 'v19');
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['state.txt'], 'no temp file left');
  });
});

describe('the audit log', () => {
  it('writes one JSON line per finished message, and after a rotation goes on in a new file', async () => {
    const dir = tmp();
    const audit = new AuditLog(dir);
    const m = msg('ship1');
    audit.record('delivered', JSON.stringify(m), 1);
    audit.flush();
    fs.renameSync(path.join(dir, 'audit.log'), path.join(dir, 'audit.log.1')); // as logrotate does
    await new Promise((r) => setTimeout(r, 1100)); // the log checks its path at most once a second
    audit.record('failed', JSON.stringify(m), 3, 'max-retries: no ACK');
    audit.close();
    const first = fs.readFileSync(path.join(dir, 'audit.log.1'), 'utf8').trim().split('\n');
    const second = fs.readFileSync(path.join(dir, 'audit.log'), 'utf8').trim().split('\n');
    assert.deepEqual(
      first.map((l) => (JSON.parse(l) as { outcome: string }).outcome),
      ['delivered'],
    );
    const line = JSON.parse(second[0] ?? '') as { outcome: string; attempts: number; error: string; message: Message };
    assert.deepEqual(
      [second.length, line.outcome, line.attempts, line.error, line.message.id],
      [1, 'failed', 3, 'max-retries: no ACK', m.id],
    );
  });
});
