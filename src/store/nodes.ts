import type { Statement } from './sqlite.js';
import type { Db } from './db.js';

export interface NodeSeen {
  name: string;
  lastSeenMs: number;
}

/** The nodes this node has heard hello from, with the time it last did. */
export class NodeRegistry {
  private readonly upsert: Statement;
  private readonly list: Statement;

  /** The names heard from, in memory: a hello asks whether its sender is new. */
  private readonly names = new Set<string>();

  constructor(private readonly db: Db) {
    this.upsert = db.sql.prepare(
      'INSERT INTO nodes (name, last_seen_ms) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)',
    );
    this.list = db.sql.prepare('SELECT name, last_seen_ms AS lastSeenMs FROM nodes ORDER BY name');
    for (const n of this.all()) this.names.add(n.name);
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  /** Lazy: rides along with the next group commit; nobody waits for it. */
  seen(name: string, atMs: number): void {
    this.names.add(name);
    this.db.writeSoon(() => this.upsert.run(name, atMs)).catch(() => {});
  }

  all(): NodeSeen[] {
    return this.list.all() as unknown as NodeSeen[];
  }
}
