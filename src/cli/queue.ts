import { ask, socketPath } from './client.js';
import { ago, table } from './format.js';

interface InFlight {
  id: string;
  method: string;
  attempts: number;
  retries: number;
  nextTryMs: number;
  lastError: string;
}

interface Destination {
  node: string;
  pending: number;
  oldestMs: number;
  inFlight: InFlight[];
}

/** `steward queue`: pending messages per destination, with attempts and next try. */
export async function queue(o: { socket?: string; json: boolean; all: boolean }): Promise<number> {
  const answer = await ask(socketPath(o.socket), { control: 'queue' });
  const dests = answer.destinations as Destination[];
  const now = Number(answer.now);
  if (o.json) {
    for (const d of dests) process.stdout.write(`${JSON.stringify(d)}\n`);
    return 0;
  }
  if (dests.length === 0) {
    process.stdout.write('nothing pending\n');
    return 0;
  }
  for (const d of dests) {
    process.stdout.write(
      `${d.node}: ${d.pending} pending, oldest accepted ${ago(now - d.oldestMs)} ago, ${d.inFlight.length} being delivered\n`,
    );
    const shown = o.all ? d.inFlight : d.inFlight.slice(0, 20);
    if (shown.length > 0) {
      const rows = shown.map((f) => [
        f.id,
        f.method,
        `${f.attempts}/${f.retries === -1 ? 'inf' : f.retries + 1}`,
        f.nextTryMs > now ? `in ${ago(f.nextTryMs - now)}` : 'now',
        f.lastError === '' ? '-' : f.lastError,
      ]);
      process.stdout.write(
        table(
          ['  ID', 'METHOD', 'ATTEMPTS', 'NEXT TRY', 'LAST ERROR'],
          rows.map((r) => [`  ${r[0]}`, ...r.slice(1)]),
        ),
      );
      if (shown.length < d.inFlight.length) process.stdout.write(`  ... ${d.inFlight.length - shown.length} more (--all)\n`);
    }
  }
  return 0;
}
