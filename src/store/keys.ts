import type { Db } from './db.js';
import type { Statement } from './sqlite.js';

export const KEY_STATES = { pinned: 'pinned', pending: 'pending', revoked: 'revoked' } as const;
export type KeyState = (typeof KEY_STATES)[keyof typeof KEY_STATES];
/** How a key came to be known: first use, an operator, `steward keys import`, a flag, a rotation. */
export type KeySource = 'tofu' | 'manual' | 'import' | 'provisioned' | 'rotated';

export interface KeyRecord {
  name: string;
  publicKey: string;
  state: KeyState;
  source: KeySource;
  firstSeenMs: number;
  lastSeenMs: number;
  previousKey: string | null;
  rotatedMs: number | null;
}

/** The node names and the public keys bound to them (see trust/keyring.ts), durably. */
export class KeyStore {
  private readonly getStmt: Statement;
  private readonly allStmt: Statement;
  private readonly putStmt: Statement;
  private readonly seenStmt: Statement;
  private readonly countStmt: Statement;

  constructor(private readonly db: Db) {
    const s = db.sql;
    const cols =
      'name, public_key AS publicKey, state, source, first_seen_ms AS firstSeenMs, last_seen_ms AS lastSeenMs, previous_key AS previousKey, rotated_ms AS rotatedMs';
    this.getStmt = s.prepare(`SELECT ${cols} FROM keys WHERE name = ?`);
    this.allStmt = s.prepare(`SELECT ${cols} FROM keys ORDER BY name`);
    this.putStmt = s.prepare(
      `INSERT INTO keys (name, public_key, state, source, first_seen_ms, last_seen_ms, previous_key, rotated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET public_key = excluded.public_key, state = excluded.state, source = excluded.source,
         last_seen_ms = excluded.last_seen_ms, previous_key = excluded.previous_key, rotated_ms = excluded.rotated_ms`,
    );
    this.seenStmt = s.prepare('UPDATE keys SET last_seen_ms = max(last_seen_ms, ?) WHERE name = ?');
    this.countStmt = s.prepare('SELECT count(*) AS n FROM keys WHERE state = ?');
  }

  get(name: string): KeyRecord | undefined {
    return this.getStmt.get(name) as unknown as KeyRecord | undefined;
  }

  all(): KeyRecord[] {
    return this.allStmt.all() as unknown as KeyRecord[];
  }

  count(state: KeyState): number {
    return (this.countStmt.get(state) as unknown as { n: number }).n;
  }

  /** Writes a binding; resolves once it is durable. */
  put(r: KeyRecord): Promise<void> {
    return this.db.write(
      () => void this.putStmt.run(r.name, r.publicKey, r.state, r.source, r.firstSeenMs, r.lastSeenMs, r.previousKey, r.rotatedMs),
    );
  }

  /** Lazy: rides along with the next commit. */
  seen(name: string, atMs: number): void {
    this.db.writeSoon(() => void this.seenStmt.run(atMs, name)).catch(() => {});
  }
}
