import { ask, socketPath } from './client.js';
import { ago, table } from './format.js';
import { whereOf } from './send.js';

interface NodeRow {
  node: string;
  lastSeenMs: number;
  online: boolean;
  labels: Record<string, string>;
}

/** `steward nodes`: every node this node (normally central) has heard hello from. */
export async function nodes(o: { socket?: string; json: boolean; sort: string; where?: string[] }): Promise<number> {
  const where = whereOf(o.where ?? []);
  const answer = await ask(socketPath(o.socket), { control: 'nodes', where });
  const rows = (answer.nodes as NodeRow[]).slice();
  const now = Number(answer.now);
  if (o.sort === 'seen') rows.sort((a, b) => b.lastSeenMs - a.lastSeenMs);
  else if (o.sort === 'state') rows.sort((a, b) => Number(a.online) - Number(b.online) || a.node.localeCompare(b.node));
  else rows.sort((a, b) => a.node.localeCompare(b.node));
  if (o.json) {
    for (const r of rows) process.stdout.write(`${JSON.stringify({ ...r, lastSeen: new Date(r.lastSeenMs).toISOString() })}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stderr.write(
      Object.keys(where).length > 0
        ? 'no node known here has those labels\n'
        : 'no node has said hello to this one yet (hellos go to the central node; run this there)\n',
    );
    return Object.keys(where).length > 0 ? 1 : 0;
  }
  process.stdout.write(
    table(
      ['NODE', 'STATE', 'LAST SEEN', 'AGO', 'LABELS'],
      rows.map((r) => [
        r.node,
        r.online ? 'online' : 'offline',
        new Date(r.lastSeenMs).toISOString(),
        ago(now - r.lastSeenMs),
        Object.entries(r.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      ]),
    ),
  );
  return 0;
}
