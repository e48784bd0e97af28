import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * The node's durable store: one SQLite file in WAL mode with synchronous=FULL, so a commit
 * survives a crash of the process and of the machine. Writes are group-committed: every write
 * asked for while the event loop was busy goes into one transaction with one fsync.
 */
/** How long a lazy write may wait for a commit to ride along with. */
const LAZY_MS = 25;

export class Db {
  readonly sql: Database.Database;
  private queue: { fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private lazyTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(folder: string) {
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    this.sql = new Database(path.join(folder, 'steward.db'));
    this.sql.pragma('journal_mode = WAL');
    this.sql.pragma('synchronous = FULL');
    this.sql.pragma('busy_timeout = 5000');
    this.sql.exec(SCHEMA);
  }

  /** Runs `fn` in the next group commit; resolves once it is durable. */
  write<T>(fn: () => T): Promise<T> {
    const p = this.enqueue(fn);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return p;
  }

  /**
   * Runs `fn` in a group commit within LAZY_MS: for bookkeeping whose loss in a crash is
   * harmless (a delivered mark lost means one more re-send, which the receiver recognises).
   * Under load it rides along with the urgent commits instead of costing an fsync of its own.
   */
  writeSoon<T>(fn: () => T): Promise<T> {
    const p = this.enqueue(fn);
    this.lazyTimer ??= setTimeout(() => this.flush(), LAZY_MS);
    return p;
  }

  private enqueue<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** Commits everything queued now (also used at stop). */
  flush(): void {
    this.scheduled = false;
    if (this.lazyTimer !== undefined) {
      clearTimeout(this.lazyTimer);
      this.lazyTimer = undefined;
    }
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    // Fast path: the whole batch in one transaction. Should one write fail, the batch is rolled
    // back and run again with a savepoint per write, so the others still commit.
    try {
      const values = this.sql.transaction(() => batch.map((item) => item.fn()))();
      batch.forEach((item, i) => item.resolve(values[i]));
      return;
    } catch {
      // fall through to the careful path
    }
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      this.sql.transaction(() => {
        for (const item of batch) {
          try {
            results.push({ ok: true, value: this.sql.transaction(item.fn)() });
          } catch (err) {
            results.push({ ok: false, value: err });
          }
        }
      })();
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    batch.forEach((item, i) => {
      const r = results[i];
      if (r?.ok) item.resolve(r.value);
      else item.reject(r?.value);
    });
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.sql.close();
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  to_node TEXT NOT NULL,
  method TEXT NOT NULL,
  state TEXT NOT NULL,            -- pending | delivered | failed | cancelled
  attempts INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  finished_ms INTEGER,            -- when it was delivered, given up or cancelled
  last_error TEXT,
  message TEXT NOT NULL           -- the Message as JSON
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (to_node, state, seq);
CREATE INDEX IF NOT EXISTS outbox_finished ON outbox (finished_ms) WHERE state != 'pending';
CREATE TABLE IF NOT EXISTS inbox (
  id TEXT PRIMARY KEY,
  from_node TEXT NOT NULL,
  method TEXT NOT NULL,
  state TEXT NOT NULL,            -- received | started | done | interrupted | rejected
  received_ms INTEGER NOT NULL,
  checkpoint TEXT,                -- method-specific redo information (e.g. a file offset)
  message TEXT                    -- kept until done, then dropped
);
CREATE INDEX IF NOT EXISTS inbox_unfinished ON inbox (state) WHERE state IN ('received', 'started');
CREATE TABLE IF NOT EXISTS nodes (
  name TEXT PRIMARY KEY,
  last_seen_ms INTEGER NOT NULL
);
`;
