import { DatabaseSync, type StatementSync } from 'node:sqlite';

export type Statement = StatementSync;

/**
 * The SQLite connection of the store: Node's built-in `node:sqlite` (no native addon to compile
 * or ship). It has no transaction helper, so `transaction` is written here: BEGIN/COMMIT, with a
 * SAVEPOINT when nested, rolled back when `fn` throws.
 */
export class Sqlite {
  private readonly db: DatabaseSync;
  private depth = 0;
  private closed = false;

  constructor(file: string) {
    this.db = new DatabaseSync(file, { timeout: 5000 });
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  prepare(sql: string): Statement {
    return this.db.prepare(sql);
  }

  /** Runs `fn` in a transaction (a savepoint inside another one). */
  transaction<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T {
    return (...args: A): T => {
      const name = `sp${this.depth}`;
      this.db.exec(this.depth === 0 ? 'BEGIN' : `SAVEPOINT ${name}`);
      this.depth++;
      try {
        const v = fn(...args);
        this.depth--;
        this.db.exec(this.depth === 0 ? 'COMMIT' : `RELEASE ${name}`);
        return v;
      } catch (err) {
        this.depth--;
        this.db.exec(this.depth === 0 ? 'ROLLBACK' : `ROLLBACK TO ${name}; RELEASE ${name}`);
        throw err;
      }
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
