import fs from 'node:fs';
import path from 'node:path';
import { Sqlite } from './sqlite.js';

/** Makes a file's data durable (fdatasync), calling back when done; runs off the event loop. */
export type SyncFile = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

export interface DbOptions {
  /** How the WAL is made durable (tests inject one to see and hold the syncs). */
  readonly syncFile?: SyncFile;
}

/** How long a lazy write may wait for a commit to ride along with. */
const LAZY_MS = 25;

/** A write waiting in the queue, then for the sync that makes its commit durable. */
interface Pending {
  fn: () => unknown;
  /** Told the value once the commit is made, before it is durable. */
  committed: ((v: unknown) => void) | undefined;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * The node's durable store: one SQLite file in WAL mode. Writes are group-committed: every write
 * asked for while the event loop was busy goes into one transaction, and a write resolves only
 * once its commit is on disk.
 *
 * Durability is ours rather than SQLite's: the connection runs with synchronous=NORMAL, so a
 * commit writes its WAL frames without waiting for the disk, and the WAL file is then
 * fdatasync'ed on the thread pool before any write of that commit resolves (no ACK, no
 * "accepted" before that). That is what synchronous=FULL does at each commit in WAL mode, minus
 * the wait on the event loop: the WAL header is still synced by SQLite when the WAL is reset,
 * and checkpoints still sync. One sync runs at a time; what is asked for meanwhile is committed
 * in one transaction when it ends and made durable by the next one, so under load one commit and
 * one fsync cover many writes.
 */
export class Db {
  readonly sql: Sqlite;
  private queue: Pending[] = [];
  private scheduled = false;
  private lazyTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Committed, waiting for a sync that starts after their commit. */
  private unsynced: (() => void)[] = [];
  /** Their rejections, should that sync fail. */
  private unsyncedFail: ((err: Error) => void)[] = [];
  /** Writes were queued while a sync ran: they are committed when it ends. */
  private flushAfterSync = false;
  /** A sync is running: settles these when it ends. */
  private syncing: { ok: (() => void)[]; fail: ((err: Error) => void)[] } | undefined;
  private walFd: number | undefined;
  private readonly walPath: string;
  private readonly syncFile: SyncFile;
  /** A batch in one transaction; the wrappers are made once. */
  private readonly runBatch: (batch: Pending[]) => unknown[];
  /** One write in a savepoint of its own, inside runWriteByWrite. */
  private readonly runOne: (fn: () => unknown) => unknown;
  /** The careful path: each write in its own savepoint, all in one transaction. */
  private readonly runWriteByWrite: (batch: Pending[]) => { ok: boolean; value: unknown }[];

  constructor(folder: string, opts: DbOptions = {}) {
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    const file = path.join(folder, 'steward.db');
    this.walPath = `${file}-wal`;
    this.syncFile = opts.syncFile ?? ((fd, done) => fs.fdatasync(fd, done));
    // Made 0600 before SQLite opens it: SQLite gives the -wal and -shm files the mode of the database.
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    fs.chmodSync(file, 0o600);
    this.sql = new Sqlite(file);
    this.sql.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    this.sql.exec(SCHEMA);
    for (const [table, column, definition] of ADDED_COLUMNS) {
      const cols = this.sql.prepare(`PRAGMA table_info(${table})`).all() as unknown as { name: string }[];
      if (!cols.some((c) => c.name === column)) this.sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
    }
    this.runBatch = this.sql.transaction((batch: Pending[]) => batch.map((item) => item.fn()));
    this.runOne = this.sql.transaction((fn: () => unknown) => fn());
    this.runWriteByWrite = this.sql.transaction((batch: Pending[]) =>
      batch.map((item) => {
        try {
          return { ok: true, value: this.runOne(item.fn) };
        } catch (err) {
          return { ok: false, value: err };
        }
      }),
    );
  }

  /**
   * Runs `fn` in the next group commit; resolves once it is durable. `committed` is called with
   * its value as soon as the commit is made, while the sync is still to come: for work that may
   * start on a commit that a crash of the machine could still take back (not of the process: the
   * commit is in the operating system's hands already), such as sending what was just stored.
   */
  write<T>(fn: () => T, committed?: (value: T) => void): Promise<T> {
    const p = this.enqueue(fn, committed);
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

  private enqueue<T>(fn: () => T, committed?: (value: T) => void): Promise<T> {
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, committed: committed as ((v: unknown) => void) | undefined, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /**
   * Commits everything queued now; its writes resolve after the next sync. While a sync runs,
   * the commit waits for its end (`now` at stop does not): a write queued then cannot be durable
   * before the next sync anyway, and everything queued meanwhile goes into one transaction.
   */
  flush(now = false): void {
    this.scheduled = false;
    if (this.lazyTimer !== undefined) {
      clearTimeout(this.lazyTimer);
      this.lazyTimer = undefined;
    }
    if (this.queue.length === 0) return;
    if (this.syncing !== undefined && !now) {
      this.flushAfterSync = true;
      return;
    }
    const batch = this.queue;
    this.queue = [];
    this.commit(batch);
    this.sync();
  }

  /**
   * The whole batch in one transaction. Should one write fail, the batch is rolled back and run
   * again with a savepoint per write, so the others still commit; the failed ones are rejected
   * at once, the rest wait for the sync.
   */
  private commit(batch: Pending[]): void {
    try {
      const values = this.runBatch(batch);
      this.afterSync(batch, values);
      return;
    } catch {
      // fall through to the careful path
    }
    let results: { ok: boolean; value: unknown }[];
    try {
      results = this.runWriteByWrite(batch);
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    const committed: Pending[] = [];
    const values: unknown[] = [];
    batch.forEach((item, i) => {
      const r = results[i];
      if (r?.ok) {
        committed.push(item);
        values.push(r.value);
      } else item.reject(r?.value);
    });
    this.afterSync(committed, values);
  }

  /** The batch is committed: tells those who asked, then waits for the sync to resolve them. */
  private afterSync(items: Pending[], values: unknown[]): void {
    if (items.length === 0) return;
    items.forEach((item, i) => {
      try {
        item.committed?.(values[i]);
      } catch {
        // the caller's own business: its write still resolves once durable
      }
    });
    this.unsynced.push(() => items.forEach((item, i) => item.resolve(values[i])));
    this.unsyncedFail.push((err) => items.forEach((item) => item.reject(err)));
  }

  /** Starts a sync of the WAL for what is committed now, unless one runs (then the next covers it). */
  private sync(): void {
    if (this.syncing !== undefined || this.unsynced.length === 0 || this.closed) return;
    const round = { ok: this.unsynced, fail: this.unsyncedFail };
    this.unsynced = [];
    this.unsyncedFail = [];
    const fd = this.wal();
    if (fd === undefined) {
      // No WAL file: no commit wrote a frame, there is nothing to make durable.
      for (const ok of round.ok) ok();
      return;
    }
    this.syncing = round;
    this.syncFile(fd, (err) => {
      if (this.syncing !== round) return; // settled by close() meanwhile
      this.syncing = undefined;
      if (err === null) for (const ok of round.ok) ok();
      else {
        const failure = new Error(`the store's commit could not be made durable: ${err.message}`, { cause: err });
        for (const fail of round.fail) fail(failure);
      }
      if (this.flushAfterSync) {
        this.flushAfterSync = false;
        this.flush();
      }
      this.sync();
    });
  }

  /** The WAL file, opened once it exists (SQLite keeps it, the same file, while the database is open). */
  private wal(): number | undefined {
    if (this.walFd === undefined) {
      try {
        this.walFd = fs.openSync(this.walPath, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    }
    return this.walFd;
  }

  close(): void {
    if (this.closed) return;
    this.flush(true);
    // What is committed is made durable here, on the spot; a sync still out changes nothing.
    const ok = [...(this.syncing?.ok ?? []), ...this.unsynced];
    const fail = [...(this.syncing?.fail ?? []), ...this.unsyncedFail];
    this.syncing = undefined;
    this.unsynced = [];
    this.unsyncedFail = [];
    const fd = this.wal();
    try {
      if (fd !== undefined) fs.fdatasyncSync(fd);
    } catch (err) {
      const failure = new Error(`the store's commit could not be made durable: ${(err as Error).message}`, { cause: err });
      for (const f of fail) f(failure);
      ok.length = 0;
    }
    for (const f of ok) f();
    this.closed = true;
    if (fd !== undefined) fs.closeSync(fd);
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
CREATE TABLE IF NOT EXISTS keys (
  name TEXT PRIMARY KEY,
  public_key TEXT NOT NULL,       -- U... (nkey encoding of the Ed25519 public key)
  state TEXT NOT NULL,            -- pinned | pending | revoked
  source TEXT NOT NULL,           -- tofu | manual | import | provisioned | rotated
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  previous_key TEXT,              -- the key it replaced (rotation)
  rotated_ms INTEGER              -- when: the previous key is still accepted for a grace time after
);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  template TEXT NOT NULL,         -- the message every target gets (JSON), toNode left out
  selector TEXT NOT NULL,         -- {names, where} as given
  rollout TEXT,                   -- {batch, batchWaitMs, maxFailures} or NULL
  schedule_id TEXT,               -- the recurring job this is one run of
  state TEXT NOT NULL,            -- running | done | stopped | cancelled
  batch INTEGER NOT NULL,         -- the batch going out now
  next_batch_ms INTEGER,          -- the next batch starts then (batch wait)
  reason TEXT,                    -- why it stopped
  finished_ms INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_ms);
CREATE TABLE IF NOT EXISTS job_targets (
  job_id TEXT NOT NULL,
  node TEXT NOT NULL,
  seq INTEGER NOT NULL,           -- its place among the targets
  batch INTEGER NOT NULL,
  state TEXT NOT NULL,            -- waiting | queued | running | ok | error | not-responding | cancelled | skipped
  message_id TEXT,
  updated_ms INTEGER NOT NULL,
  detail TEXT,                    -- the error, for error and not-responding
  output TEXT,                    -- the start of its reply
  PRIMARY KEY (job_id, node)
);
CREATE INDEX IF NOT EXISTS job_targets_message ON job_targets (message_id);
CREATE TABLE IF NOT EXISTS schedules (
  id TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  template TEXT NOT NULL,
  selector TEXT NOT NULL,
  rollout TEXT,
  every_ms INTEGER NOT NULL,
  next_run_ms INTEGER NOT NULL,
  state TEXT NOT NULL,            -- active | paused | cancelled
  runs INTEGER NOT NULL DEFAULT 0,
  last_job_id TEXT
);
`;

/** Columns added after the first release: added to stores made before them. */
const ADDED_COLUMNS: readonly [table: string, column: string, definition: string][] = [
  ['outbox', 'expects_reply', 'INTEGER NOT NULL DEFAULT 0'],
  ['nodes', 'labels', "TEXT NOT NULL DEFAULT '{}'"],
];
