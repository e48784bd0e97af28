import type { Statement } from 'better-sqlite3';
import type { Encoded } from '../message/codec.js';
import type { Message } from '../message/message.js';
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

export interface FailedEntry {
  id: string;
  toNode: string;
  method: string;
  attempts: number;
  error: string;
}

/**
 * The durable outbox: a message is accepted once its row is committed, and leaves when it is
 * ACKed (row deleted) or its budget is spent (row kept as failed, queryable).
 */
export class Outbox {
  private readonly insertStmt: Statement;
  private readonly deleteStmt: Statement;
  private readonly failStmt: Statement;
  private readonly attemptsStmt: Statement;
  private readonly pendingStmt: Statement;
  private readonly destinationsStmt: Statement;
  private readonly countStmt: Statement;

  constructor(private readonly db: Db) {
    const s = db.sql;
    this.insertStmt = s.prepare(
      'INSERT OR IGNORE INTO outbox (id, to_node, method, state, created_ms, message) VALUES (?, ?, ?, \'pending\', ?, ?)',
    );
    this.deleteStmt = s.prepare('DELETE FROM outbox WHERE id = ?');
    this.failStmt = s.prepare("UPDATE outbox SET state = 'failed', attempts = ?, last_error = ? WHERE id = ?");
    this.attemptsStmt = s.prepare('UPDATE outbox SET attempts = ? WHERE id = ?');
    this.pendingStmt = s.prepare(
      "SELECT seq, message, attempts FROM outbox WHERE to_node = ? AND state = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
    );
    this.destinationsStmt = s.prepare("SELECT DISTINCT to_node AS node FROM outbox WHERE state = 'pending'");
    this.countStmt = s.prepare("SELECT count(*) AS n FROM outbox WHERE state = 'pending'");
  }

  /**
   * Commits the messages; resolves with an entry for each new one (undefined when the id was
   * already there).
   */
  add(messages: readonly Message[]): Promise<(OutboxEntry | undefined)[]> {
    const json = messages.map((m) => JSON.stringify(m));
    return this.db.write(() =>
      messages.map((m, i) => {
        const r = this.insertStmt.run(m.id, m.toNode, m.method, m.createdMs, json[i]);
        return r.changes === 1 ? { seq: Number(r.lastInsertRowid), message: m, attempts: 0, json: json[i] as string } : undefined;
      }),
    );
  }

  /** Lazy: a delivered mark lost in a crash costs one re-send, which the receiver recognises. */
  delivered(id: string): Promise<void> {
    return this.db.writeSoon(() => void this.deleteStmt.run(id));
  }

  failed(id: string, attempts: number, error: string): Promise<void> {
    return this.db.write(() => void this.failStmt.run(attempts, error, id));
  }

  /** Records the attempt count; not awaited by callers, it rides along with the next commit. */
  attempted(id: string, attempts: number): Promise<void> {
    return this.db.writeSoon(() => void this.attemptsStmt.run(attempts, id));
  }

  pending(toNode: string, afterSeq: number, limit: number): OutboxEntry[] {
    const rows = this.pendingStmt.all(toNode, afterSeq, limit) as { seq: number; message: string; attempts: number }[];
    return rows.map((r) => ({ seq: r.seq, message: JSON.parse(r.message) as Message, attempts: r.attempts, json: r.message }));
  }

  destinations(): string[] {
    return (this.destinationsStmt.all() as { node: string }[]).map((r) => r.node);
  }

  pendingCount(): number {
    return (this.countStmt.get() as { n: number }).n;
  }
}
