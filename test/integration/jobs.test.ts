import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { eventually } from '../support/eventually.js';
import type { JobEvent, MessageNews } from '../../src/fleet/job-events.js';
import { Jobs } from '../../src/fleet/jobs.js';
import { JobViews } from '../../src/fleet/job-views.js';
import { newMessage, type Message } from '../../src/message/message.js';
import { Db } from '../../src/store/db.js';
import { JobStore } from '../../src/store/jobs.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A node's jobs over a real store on disk, with the outbox and the nodes played by the test. */
function jobsOn(dir: string, opts: { outbox: Set<string>; fate?: Map<string, MessageNews[]> }) {
  const db = new Db(dir);
  const store = new JobStore(db);
  const submitted: Message[] = [];
  const events: JobEvent[] = [];
  const jobs = new Jobs({
    store,
    known: () =>
      new Map([
        ['central', {}],
        ['ship1', { role: 'ship' }],
        ['ship2', { role: 'ship' }],
        ['ship3', { role: 'ship' }],
      ]),
    submit: async (messages) => {
      const already = messages.filter((m) => opts.outbox.has(m.id)).map((m) => m.id);
      for (const m of messages) {
        if (opts.outbox.has(m.id)) continue;
        opts.outbox.add(m.id);
        submitted.push(m);
      }
      return already;
    },
    cancel: async () => undefined,
    prepare: (m) => m,
    fate: (id) => opts.fate?.get(id) ?? [],
    emit: (ev) => events.push(ev),
    logger: pino({ level: 'silent' }),
  });
  return { db, store, jobs, views: new JobViews(store), submitted, events };
}

const template = (): Message =>
  newMessage({
    toNode: '',
    fromNode: 'central',
    method: 'REQCliCommand',
    methodArgs: ['uptime'],
    replyMethod: 'REQToFileAppend',
    ackTimeoutMs: 5000,
    retries: 1,
  });
/** The job's end event, once it came. */
const ended = (events: JobEvent[]): Promise<Extract<JobEvent, { event: 'job' }>> =>
  eventually(() => events.find((x): x is Extract<JobEvent, { event: 'job' }> => x.event === 'job'), { what: 'the job to end' });

describe('jobs over a real store', () => {
  it('stops a rollout at the first failure: one node ran, the others are skipped, the reason is stored', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-jobs-'));
    dirs.push(dir);
    const n = jobsOn(dir, { outbox: new Set() });
    const r = await n.jobs.submit(template(), { names: '*', where: { role: 'ship' } }, { batch: 1, batchWaitMs: 0, maxFailures: 0 });
    assert.deepEqual(
      n.submitted.map((m) => m.toNode),
      ['ship1'],
    );
    const first = r.targets[0]?.id as string;
    await n.jobs.onNews({ event: 'delivered', id: first });
    await n.jobs.onNews({ event: 'error', id: first, text: 'error: REQCliCommand: command exited with code 3' });
    await n.jobs.onNews({ event: 'reply', id: first, data: 'partial\n' });
    const end = await ended(n.events);
    assert.equal(end.state, 'stopped');
    assert.deepEqual(end.counts, { error: 1, skipped: 2 });
    assert.deepEqual(end.failed, [{ node: 'ship1', detail: 'error: REQCliCommand: command exited with code 3' }]);
    assert.equal(n.submitted.length, 1, 'nothing more was sent');
    const v = n.views.view(r.job.id);
    assert.equal(v?.job.reason, '1 node(s) failed, more than the 0 allowed: the rollout stopped');
    assert.deepEqual(
      v?.targets.map((t) => [t.node, t.state, t.output]),
      [
        ['ship1', 'error', 'partial\n'],
        ['ship2', 'skipped', null],
        ['ship3', 'skipped', null],
      ],
    );
    n.jobs.stop();
    n.db.close();
  });

  it('after a crash inside a batch, sends its rest with the same ids and learns what the ones already sent did', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-jobs-'));
    dirs.push(dir);
    const outbox = new Set<string>();
    const a = jobsOn(dir, { outbox });
    const r = await a.jobs.submit(template(), { names: ['ship1', 'ship2', 'ship3'], where: {} }, { batch: 2, batchWaitMs: 0 });
    assert.deepEqual(
      a.submitted.map((m) => m.id),
      [r.targets[0]?.id, r.targets[1]?.id],
    );
    // The node dies before the rows of the batch are written: they still say waiting.
    a.jobs.stop();
    a.db.close();
    const db = new Db(dir);
    const rows = new JobStore(db).targets(r.job.id);
    db.close();
    const [t0, t1, t2] = r.targets.map((t) => t.id) as [string, string, string];
    // Whatever the rows say, the outbox knows both went, and the inbox has ship1's reply.
    const fate = new Map<string, MessageNews[]>([
      [
        t0,
        [
          { event: 'delivered', id: t0 },
          { event: 'reply', id: t0, data: '' },
        ],
      ],
      [t1, [{ event: 'delivered', id: t1 }]],
    ]);
    const b = jobsOn(dir, { outbox, fate });
    await b.jobs.start();
    assert.deepEqual(
      b.submitted.map((m) => m.id),
      [],
      `nothing sent twice (rows were ${rows.map((x) => x.state).join(',')})`,
    );
    await b.jobs.onNews({ event: 'reply', id: t1, data: 'two\n' });
    // The next batch goes out on a timer of its own (a failure limit would make it wait).
    await eventually(() => b.submitted.length > 0, { what: 'the last batch' });
    assert.deepEqual(
      b.submitted.map((m) => m.id),
      [t2],
    );
    await b.jobs.onNews({ event: 'reply', id: t2, data: 'three\n' });
    const end = await ended(b.events);
    assert.deepEqual([end.state, end.counts], ['done', { ok: 3 }]);
    b.jobs.stop();
    b.db.close();
  });
});
