import type { Statement } from './sqlite.js';
import type { Db } from './db.js';

export interface NodeSeen {
  name: string;
  lastSeenMs: number;
  labels: Record<string, string>;
}

/** The nodes this node has heard hello from, with the time it last did. */
export class NodeRegistry {
  private readonly upsert: Statement;
  private readonly list: Statement;

  /** The names heard from, in memory: a hello asks whether its sender is new. */
  private readonly names = new Set<string>();
  private readonly labels = new Map<string, Readonly<Record<string, string>>>();

  constructor(private readonly db: Db) {
    this.upsert = db.sql.prepare(
      'INSERT INTO nodes (name, last_seen_ms, labels) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms), labels = excluded.labels',
    );
    this.list = db.sql.prepare('SELECT name, last_seen_ms AS lastSeenMs, labels FROM nodes ORDER BY name');
    for (const n of this.all()) {
      this.names.add(n.name);
      this.labels.set(n.name, n.labels);
    }
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  /** Lazy: rides along with the next group commit; nobody waits for it. */
  seen(name: string, atMs: number, labels: Readonly<Record<string, string>> = {}): void {
    this.names.add(name);
    this.labels.set(name, labels);
    this.db.writeSoon(() => this.upsert.run(name, atMs, JSON.stringify(labels))).catch(() => {});
  }

  all(): NodeSeen[] {
    return (this.list.all() as unknown as (Omit<NodeSeen, 'labels'> & { labels: string })[]).map((r) => ({
      ...r,
      labels: JSON.parse(r.labels) as Record<string, string>,
    }));
  }

  /** The nodes known, with their labels (in memory: selectors expand against it on every job). */
  known(): ReadonlyMap<string, Readonly<Record<string, string>>> {
    return this.labels;
  }
}
