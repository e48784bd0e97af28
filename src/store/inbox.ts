import type { Statement } from './sqlite.js';
import type { Message } from '../message/message.js';
import type { Db } from './db.js';

export const INBOX_STATES = {
  received: 'received',
  started: 'started',
  done: 'done',
  interrupted: 'interrupted',
} as const;
export type InboxState = (typeof INBOX_STATES)[keyof typeof INBOX_STATES];

export interface UnfinishedEntry {
  message: Message;
  state: InboxState;
  checkpoint: string | undefined;
}

/** What the ledger keeps of a received message. */
export interface InboxRecord {
  id: string;
  fromNode: string;
  method: string;
  state: InboxState;
  receivedMs: number;
}

/** How long the ids of finished messages are remembered to recognise re-sends. */
export const LEDGER_RETENTION_MS = 30 * 24 * 3600 * 1000;

/**
 * The inbox ledger: the id of every message this node received, committed before it is ACKed.
 * A re-sent id is recognised and never run twice; the state says how far a run got.
 */
export class Inbox {
  private readonly getStmt: Statement;
  private readonly recordStmt: Statement;
  private readonly insertStmt: Statement;
  private readonly stateStmt: Statement;
  private readonly checkpointStmt: Statement;
  private readonly doneStmt: Statement;
  private readonly unfinishedStmt: Statement;
  private readonly pruneStmt: Statement;

  constructor(private readonly db: Db) {
    const s = db.sql;
    this.getStmt = s.prepare('SELECT state FROM inbox WHERE id = ?');
    this.recordStmt = s.prepare('SELECT id, from_node AS fromNode, method, state, received_ms AS receivedMs FROM inbox WHERE id = ?');
    this.insertStmt = s.prepare(
      'INSERT OR IGNORE INTO inbox (id, from_node, method, state, received_ms, checkpoint, message) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.stateStmt = s.prepare('UPDATE inbox SET state = ? WHERE id = ?');
    this.checkpointStmt = s.prepare('UPDATE inbox SET checkpoint = ? WHERE id = ?');
    this.doneStmt = s.prepare('UPDATE inbox SET state = ?, message = NULL, checkpoint = NULL WHERE id = ?');
    this.unfinishedStmt = s.prepare(
      "SELECT state, checkpoint, message FROM inbox WHERE state IN ('received', 'started') ORDER BY received_ms, id",
    );
    this.pruneStmt = s.prepare("DELETE FROM inbox WHERE state NOT IN ('received', 'started') AND received_ms < ?");
  }

  /** What this node knows of a message it received. */
  record(id: string): InboxRecord | undefined {
    return this.recordStmt.get(id) as unknown as InboxRecord | undefined;
  }

  state(id: string): InboxState | undefined {
    return (this.getStmt.get(id) as unknown as { state: InboxState } | undefined)?.state;
  }

  /**
   * Commits the receipt of `msg`; resolves with `fresh: false` when the id was already known.
   * `plan` runs inside the commit, only for a new id, and what it returns is stored with the
   * receipt, so a copy received twice in one batch is planned once. Should the receipt not be
   * kept after all (the commit failed), `abandon` gives the plan back. `state` started saves the
   * commit that would mark it started a moment later (a method that must not run twice and will
   * start at once): should the node crash before it ran, it is reported interrupted.
   */
  async receive(
    msg: Message,
    now: number,
    plan?: () => string | undefined,
    abandon?: (checkpoint: string) => void,
    state: 'received' | 'started' = INBOX_STATES.received,
  ): Promise<{ fresh: boolean; checkpoint: string | undefined }> {
    // A failed group commit is retried write by write: plan at most once across both runs.
    let planned: { checkpoint: string | undefined } | undefined;
    try {
      return await this.db.write(() => {
        const r = this.insertStmt.run(msg.id, msg.fromNode, msg.method, state, now, null, JSON.stringify(msg));
        if (Number(r.changes) !== 1) return { fresh: false, checkpoint: undefined };
        planned ??= { checkpoint: plan?.() };
        if (planned.checkpoint !== undefined) this.checkpointStmt.run(planned.checkpoint, msg.id);
        return { fresh: true, checkpoint: planned.checkpoint };
      });
    } catch (err) {
      if (planned?.checkpoint !== undefined) abandon?.(planned.checkpoint);
      throw err;
    }
  }

  started(id: string): Promise<void> {
    return this.db.write(() => void this.stateStmt.run(INBOX_STATES.started, id));
  }

  /** `lazy` when losing the mark in a crash is harmless (the method is redone in place). */
  finished(id: string, state: 'done' | 'interrupted', lazy = false): Promise<void> {
    const fn = (): void => void this.doneStmt.run(state, id);
    return lazy ? this.db.writeSoon(fn) : this.db.write(fn);
  }

  unfinished(): UnfinishedEntry[] {
    const rows = this.unfinishedStmt.all() as { state: InboxState; checkpoint: string | null; message: string }[];
    return rows.map((r) => ({ state: r.state, checkpoint: r.checkpoint ?? undefined, message: JSON.parse(r.message) as Message }));
  }

  prune(now: number): number {
    return Number(this.pruneStmt.run(now - LEDGER_RETENTION_MS).changes);
  }
}
