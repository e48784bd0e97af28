import { ask, CliError, socketPath } from './client.js';

/** `steward cancel <id>... | --to <node>`: drops pending messages; they end as cancelled. */
export async function cancel(ids: string[], o: { socket?: string; to?: string; json: boolean }): Promise<number> {
  if ((ids.length === 0) === (o.to === undefined))
    throw new CliError('give message ids, or --to <node> for every pending message to it', 2);
  const a = await ask(socketPath(o.socket), o.to === undefined ? { control: 'cancel', ids } : { control: 'cancel', to: o.to });
  const results = a.results as { id: string; cancelled: boolean; state: string }[];
  for (const r of results) {
    process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : `${r.id}  ${r.cancelled ? 'cancelled' : `not cancelled (${r.state})`}\n`);
  }
  if (results.length === 0 && !o.json) process.stdout.write(`nothing pending for ${o.to ?? 'those ids'}\n`);
  return results.some((r) => r.cancelled) ? 0 : 1;
}
