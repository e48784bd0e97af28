import type { Statement } from './sqlite.js';
import type { Encoded } from '../message/codec.js';
import { NO_REPLY, type Message } from '../message/message.js';
import type { Db } from './db.js';

/** A message waiting in the outbox, as the delivery loop sees it. */
export interface OutboxEntry {
  seq: number;
  message: Message;
  attempts: number;
  /** The message as stored (JSON), reused for the audit line. */
  json: string;
  /** The wire form, when the node that accepted it already made it (not stored). */
  encoded?: Encoded;
}

export interface OutboxRecord {
  id: string;
  toNode: string;
  method: string;
  state: 'pending' | 'delivered' | 'failed' | 'cancelled';
  attempts: number;
  createdMs: number;
  finishedMs: number | null;
  lastError: string | null;
  message: Message;
}

/**
 * A finished message is kept for `steward status` without the data of a large one (a file copy
 * chunk), so a copied file does not stay in the store for the retention time.
 */
const DROP_LARGE_DATA =
  "message = CASE WHEN length(message) > 65536 THEN json_set(message, '$.data', json_array('(data not kept after delivery)')) ELSE message END";

/** How long finished messages stay queryable (`steward status`). */
export const OUTBOX_RETENTION_MS = 24 * 3600 * 1000;
/**
 * How long a finished request that expects replies is kept: a reply is taken only as the answer
 * to a request of this node's own (node/replies.ts), and a command may reply long after it was
 * delivered (a streamed output, a slow node).
 */
export const REQUEST_RETENTION_MS = 30 * 24 * 3600 * 1000;

/**
 * The durable outbox: a message is accepted once its row is committed, and stays pending until
 * it is ACKed (delivered), its budget is spent (failed) or an operator cancels it. Finished
 * rows stay queryable for OUTBOX_RETENTION_MS.
 */
export class Outbox {
  private readonly insertStmt: Statement;
  private readonly deliveredStmt: Statement;
  private readonly failStmt: Statement;
  private readonly cancelStmt: Statement;
  private readonly pendingIdsToStmt: Statement;
  private readonly getStmt: Statement;
  private readonly summaryStmt: Statement;
  private readonly pruneStmt: Statement;
  private readonly attemptsStmt: Statement;
  private readonly pendingStmt: Statement;
  private readonly destinationsStmt: Statement;
  private readonly countStmt: Statement;

  constructor(private readonly db: Db) {
    const s = db.sql;
    this.insertStmt = s.prepare(
      "INSERT OR IGNORE INTO outbox (id, to_node, method, state, created_ms, message, expects_reply) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
    );
    this.deliveredStmt = s.prepare(`UPDATE outbox SET state = 'delivered', attempts = ?, finished_ms = ?, ${DROP_LARGE_DATA} WHERE id = ?`);
    this.failStmt = s.prepare(
      `UPDATE outbox SET state = 'failed', attempts = ?, last_error = ?, finished_ms = ?, ${DROP_LARGE_DATA} WHERE id = ?`,
    );
    this.cancelStmt = s.prepare(
      `UPDATE outbox SET state = 'cancelled', last_error = ?, finished_ms = ?, ${DROP_LARGE_DATA} WHERE id = ? AND state = 'pending'`,
    );
    this.attemptsStmt = s.prepare('UPDATE outbox SET attempts = ?, last_error = ? WHERE id = ?');
    this.pendingStmt = s.prepare(
      "SELECT seq, message, attempts FROM outbox WHERE to_node = ? AND state = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
    );
    this.pendingIdsToStmt = s.prepare("SELECT id FROM outbox WHERE to_node = ? AND state = 'pending' ORDER BY seq");
    this.destinationsStmt = s.prepare("SELECT DISTINCT to_node AS node FROM outbox WHERE state = 'pending'");
    this.countStmt = s.prepare("SELECT count(*) AS n FROM outbox WHERE state = 'pending'");
    this.getStmt = s.prepare(
      'SELECT id, to_node AS toNode, method, state, attempts, created_ms AS createdMs, finished_ms AS finishedMs, last_error AS lastError, message FROM outbox WHERE id = ?',
    );
    this.summaryStmt = s.prepare(
      "SELECT to_node AS node, count(*) AS pending, min(created_ms) AS oldestMs FROM outbox WHERE state = 'pending' GROUP BY to_node ORDER BY to_node",
    );
    this.pruneStmt = s.prepare(
      "DELETE FROM outbox WHERE state != 'pending' AND finished_ms < ? AND (expects_reply = 0 OR finished_ms < ?)",
    );
  }

  /**
   * Commits the messages; resolves, once that is durable, with an entry for each new one
   * (undefined when the id was already there). `committed` gets the entries as soon as the
   * commit is made, before its sync (see Db.write).
   */
  add(messages: readonly Message[], committed?: (entries: (OutboxEntry | undefined)[]) => void): Promise<(OutboxEntry | undefined)[]> {
    const json = messages.map((m) => JSON.stringify(m));
    return this.db.write(
      () =>
        messages.map((m, i) => {
          const expectsReply = m.isReply || m.replyMethod === NO_REPLY ? 0 : 1;
          const r = this.insertStmt.run(m.id, m.toNode, m.method, m.createdMs, json[i] as string, expectsReply);
          return Number(r.changes) === 1 ? { seq: Number(r.lastInsertRowid), message: m, attempts: 0, json: json[i] as string } : undefined;
        }),
      committed,
    );
  }

  /** Lazy: a delivered mark lost in a crash costs one re-send, which the receiver recognises. */
  delivered(id: string, attempts: number, now: number): Promise<void> {
    return this.db.writeSoon(() => void this.deliveredStmt.run(attempts, now, id));
  }

  failed(id: string, attempts: number, error: string, now: number): Promise<void> {
    return this.db.write(() => void this.failStmt.run(attempts, error, now, id));
  }

  /** Cancels a pending message; resolves false when it was not pending (already finished). */
  cancel(id: string, reason: string, now: number): Promise<boolean> {
    return this.db.write(() => Number(this.cancelStmt.run(reason, now, id).changes) === 1);
  }

  /** Records the attempt count and why the last one failed; rides along with the next commit. */
  attempted(id: string, attempts: number, error: string): Promise<void> {
    return this.db.writeSoon(() => void this.attemptsStmt.run(attempts, error, id));
  }

  /** A message, pending or finished in the retention window. */
  get(id: string): OutboxRecord | undefined {
    const r = this.getStmt.get(id) as (Omit<OutboxRecord, 'message'> & { message: string }) | undefined;
    return r === undefined ? undefined : { ...r, message: JSON.parse(r.message) as Message };
  }

  /** Pending messages per destination, with the time the oldest was accepted. */
  summary(): { node: string; pending: number; oldestMs: number }[] {
    return this.summaryStmt.all() as { node: string; pending: number; oldestMs: number }[];
  }

  pendingIdsTo(node: string): string[] {
    return (this.pendingIdsToStmt.all(node) as unknown as { id: string }[]).map((r) => r.id);
  }

  /** Forgets finished messages older than the retention. */
  prune(now: number): number {
    return Number(this.pruneStmt.run(now - OUTBOX_RETENTION_MS, now - REQUEST_RETENTION_MS).changes);
  }

  /** Pending messages to `toNode` after `afterSeq`, in order (committed, perhaps not yet synced). */
  pending(toNode: string, afterSeq: number, limit: number): OutboxEntry[] {
    const rows = this.pendingStmt.all(toNode, afterSeq, limit) as { seq: number; message: string; attempts: number }[];
    return rows.map((r) => ({ seq: r.seq, message: JSON.parse(r.message) as Message, attempts: r.attempts, json: r.message }));
  }

  destinations(): string[] {
    return (this.destinationsStmt.all() as unknown as { node: string }[]).map((r) => r.node);
  }

  pendingCount(): number {
    return (this.countStmt.get() as unknown as { n: number }).n;
  }
}
