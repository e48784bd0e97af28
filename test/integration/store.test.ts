import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { newId } from '../../src/message/id.js';
import type { Message } from '../../src/message/message.js';
import { FileWriter } from '../../src/methods/files.js';
import { Db } from '../../src/store/db.js';
import { Inbox } from '../../src/store/inbox.js';
import { Outbox } from '../../src/store/outbox.js';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'steward-store-'));

function msg(toNode: string, extra: Partial<Message> = {}): Message {
  return {
    id: newId(), toNode, fromNode: 'central', method: 'REQCliCommand', methodArgs: ['true'], replyMethod: 'REQToFileAppend',
    replyMethodArgs: [], isReply: false, data: [], ackTimeoutMs: 1000, retries: 1, replyAckTimeoutMs: 0, replyRetries: 0,
    methodTimeoutMs: 1000, replyMethodTimeoutMs: 0, directory: '', fileName: '', relayViaNode: '', relayReplyMethod: '',
    createdMs: Date.now(), ...extra,
  };
}

describe('the SQLite store', () => {
  it('keeps outbox messages across a reopen, per destination in order, and failed ones apart', async () => {
    const dir = tmp();
    let db = new Db(dir);
    let outbox = new Outbox(db);
    const a = [msg('ship1'), msg('ship2'), msg('ship1'), msg('ship1')];
    const added = await outbox.add(a);
    assert.deepEqual(added.map((e) => e?.seq), [1, 2, 3, 4]);
    assert.deepEqual(JSON.parse(added[0]?.json ?? ''), a[0], 'the stored JSON is the message');
    assert.deepEqual(await outbox.add([a[0] as Message]), [undefined], 'the same id is not stored twice');
    await outbox.failed((a[2] as Message).id, 3, 'max-retries', Date.now());
    await outbox.delivered((a[1] as Message).id, 1, Date.now());
    db.close();
    db = new Db(dir);
    outbox = new Outbox(db);
    assert.deepEqual(outbox.destinations(), ['ship1']);
    assert.deepEqual(outbox.pending('ship1', 0, 10).map((e) => e.message.id), [(a[0] as Message).id, (a[3] as Message).id]);
    assert.deepEqual(outbox.pending('ship1', 1, 10).map((e) => e.seq), [4]);
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
    assert.deepEqual(both, [{ fresh: true, checkpoint: '{"x":1}' }, { fresh: false, checkpoint: undefined }], 'a copy in the same commit is not planned');
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
});
