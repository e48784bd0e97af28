import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { StewardProcess } from './steward.js';

/** The lines of a file, without the empty one after the last newline; [] when it does not exist. */
export function lines(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out = text.split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

/** Compares lines with the lines expected once each: which came twice or more, which never, which were not expected. */
export function tally(
  got: readonly string[],
  expected: readonly string[],
): { duplicates: string[]; missing: string[]; unexpected: string[] } {
  const counts = new Map<string, number>();
  for (const l of got) counts.set(l, (counts.get(l) ?? 0) + 1);
  const want = new Set(expected);
  return {
    duplicates: [...counts].filter(([, n]) => n > 1).map(([l, n]) => `${JSON.stringify(l)} x${n}`),
    missing: expected.filter((l) => !counts.has(l)),
    unexpected: [...counts.keys()].filter((l) => !want.has(l)).map((l) => JSON.stringify(l)),
  };
}

function withStore<T>(node: StewardProcess, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path.join(node.dir, 'var', 'lib', 'steward.db'), { readOnly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** What a node's store still has to do: outbox rows not delivered yet, inbox rows not finished running. */
export function storeBacklog(node: StewardProcess): { pending: number; unfinished: number } {
  return withStore(node, (db) => ({
    pending: (db.prepare("SELECT count(*) AS n FROM outbox WHERE state = 'pending'").get() as { n: number }).n,
    unfinished: (db.prepare("SELECT count(*) AS n FROM inbox WHERE state IN ('received', 'started')").get() as { n: number }).n,
  }));
}

/** True when neither node has anything left to deliver or run, so no late re-send can still arrive. */
export function settled(...nodes: StewardProcess[]): boolean {
  return nodes.every((n) => {
    const b = storeBacklog(n);
    return b.pending === 0 && b.unfinished === 0;
  });
}

/** What a node's outbox says of message `id` now (undefined when it has no such row). */
export function outboxRow(node: StewardProcess, id: string): { state: string; attempts: number; lastError: string | null } | undefined {
  const row = withStore(
    node,
    (db) =>
      db.prepare('SELECT state, attempts, last_error AS lastError FROM outbox WHERE id = ?').get(id) as
        { state: string; attempts: number; lastError: string | null } | undefined,
  );
  // node:sqlite's rows have no prototype; a plain object compares as the test writes it.
  return row === undefined ? undefined : { ...row };
}

/** A node's outbox rows, oldest first: what it sent or still sends, to whom, and how far each got. */
export function outboxRows(node: StewardProcess): { id: string; toNode: string; method: string; state: string; attempts: number }[] {
  return withStore(
    node,
    (db) =>
      db.prepare('SELECT id, to_node AS toNode, method, state, attempts FROM outbox ORDER BY seq').all() as {
        id: string;
        toNode: string;
        method: string;
        state: string;
        attempts: number;
      }[],
  );
}

/** What a node's inbox says of message `id` (undefined when it never received it). */
export function inboxState(node: StewardProcess, id: string): string | undefined {
  return withStore(node, (db) => (db.prepare('SELECT state FROM inbox WHERE id = ?').get(id) as { state: string } | undefined)?.state);
}

/** Outbox rows a node gave up on (budget spent or rejected), as `id method: error`. */
export function failedRows(node: StewardProcess): string[] {
  return withStore(node, (db) =>
    (
      db.prepare("SELECT id, method, last_error AS e FROM outbox WHERE state = 'failed'").all() as {
        id: string;
        method: string;
        e: string;
      }[]
    ).map((r) => `${r.id} ${r.method}: ${r.e}`),
  );
}

/** Inbox rows a node marked interrupted (a run cut short by a restart, reported instead of repeated). */
export function interruptedRows(node: StewardProcess): number {
  return withStore(node, (db) => (db.prepare("SELECT count(*) AS n FROM inbox WHERE state = 'interrupted'").get() as { n: number }).n);
}

/** `count` REQCliCommand messages for `toNode`: command N appends N to `executionsLog` there and replies `reply-N`. */
export function countedCommands(
  toNode: string,
  count: number,
  executionsLog: string,
  settings: Record<string, unknown>,
): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, n) => ({
    toNode,
    method: 'REQCliCommand',
    methodArgs: ['bash', '-c', `echo ${n} >> ${executionsLog}; echo reply-${n}`],
    replyMethod: 'REQToFileAppend',
    directory: 'results',
    fileName: 'out.txt',
    ...settings,
  }));
}

/**
 * Asserts the exactly-once outcome of a counted burst: `executions` holds each of 0..n-1 once
 * (each command ran once) and `results` holds each `reply-N` once (each reply arrived once).
 */
export function assertRanAndRepliedOnce(executions: string, results: string, n: number): void {
  const ran = lines(executions);
  const ranTally = tally(
    ran,
    Array.from({ length: n }, (_, i) => String(i)),
  );
  assert.deepEqual(ranTally.duplicates, [], 'no command ran twice');
  assert.deepEqual(ranTally.missing, [], 'every command ran');
  assert.deepEqual(ranTally.unexpected, [], 'the executions log holds only the commands sent');
  assert.equal(ran.length, n);
  const replies = lines(results);
  const replyTally = tally(
    replies,
    Array.from({ length: n }, (_, i) => `reply-${i}`),
  );
  assert.deepEqual(replyTally.duplicates, [], 'no reply was appended twice');
  assert.deepEqual(replyTally.missing, [], 'every reply arrived');
  assert.deepEqual(replyTally.unexpected, [], 'the result file holds only the replies (no holes, no overlaps)');
  assert.equal(replies.length, n);
}
