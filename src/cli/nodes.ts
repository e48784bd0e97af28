import { ask, socketPath } from './client.js';
import { ago, table } from './format.js';

interface NodeRow {
  node: string;
  lastSeenMs: number;
  online: boolean;
}

/** `steward nodes`: every node this node (normally central) has heard hello from. */
export async function nodes(o: { socket?: string; json: boolean; sort: string }): Promise<number> {
  const answer = await ask(socketPath(o.socket), { control: 'nodes' });
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
    process.stderr.write('no node has said hello to this one yet (hellos go to the central node; run this there)\n');
    return 0;
  }
  process.stdout.write(
    table(
      ['NODE', 'STATE', 'LAST SEEN', 'AGO'],
      rows.map((r) => [r.node, r.online ? 'online' : 'offline', new Date(r.lastSeenMs).toISOString(), ago(now - r.lastSeenMs)]),
    ),
  );
  return 0;
}
