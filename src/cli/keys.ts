import path from 'node:path';
import { ask, CliError, socketPath } from './client.js';
import { ago, table, time } from './format.js';
import { readKeyFolder } from './key-files.js';

interface KeyRow {
  name: string;
  publicKey: string;
  fingerprint: string;
  state: string;
  source: string;
  firstSeenMs: number;
  lastSeenMs: number;
}

/** `steward keys [list|accept|revoke|import|rotate]`: the node keys this node knows, and changes to them. */
export async function keys(
  action: string | undefined,
  args: string[],
  o: { socket?: string; json: boolean; to?: string },
): Promise<number> {
  const socket = socketPath(o.socket);
  const print = (v: object, text: string): void => void process.stdout.write(o.json ? `${JSON.stringify(v)}\n` : text);
  switch (action ?? 'list') {
    case 'list': {
      const a = await ask(socket, { control: 'keys' });
      const self = a.self as { name: string; fingerprint: string; publicKey: string };
      const rows = a.keys as KeyRow[];
      if (o.json) {
        for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
        return 0;
      }
      process.stdout.write(`this node: ${self.name} ${self.fingerprint} (${self.publicKey}); new keys: ${String(a.mode)}\n`);
      const now = Date.now();
      process.stdout.write(
        rows.length === 0
          ? 'no other node is known yet\n'
          : table(
              ['NODE', 'STATE', 'FINGERPRINT', 'SOURCE', 'FIRST SEEN', 'LAST SEEN'],
              rows.map((r) => [r.name, r.state, r.fingerprint, r.source, time(r.firstSeenMs), `${ago(now - r.lastSeenMs)} ago`]),
            ),
      );
      return 0;
    }
    case 'accept':
    case 'revoke': {
      if (args.length === 0) throw usage(`steward keys ${action} <node>...`);
      for (const node of args) {
        const r = (await ask(socket, { control: `keys-${action}`, node })) as unknown as KeyRow;
        print(r, `${r.name}  ${r.state}  ${r.fingerprint}\n`);
      }
      return 0;
    }
    case 'import': {
      const [dir] = args;
      if (dir === undefined) throw usage('steward keys import <folder of <node>.pub or <node>.nk files>');
      const found = readKeyFolder(path.resolve(dir));
      const a = await ask(socket, { control: 'keys-import', keys: Object.fromEntries(found) });
      for (const r of a.imported as { name: string; change: string }[]) print(r, `${r.name}  ${r.change}\n`);
      if (!o.json) process.stdout.write('names not imported are now refused, not pinned on first use\n');
      return 0;
    }
    case 'rotate': {
      const to = o.to
        ?.split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const a = await ask(socket, { control: 'keys-rotate', ...(to === undefined ? {} : { to }) });
      print(a, `rotated: ${String(a.previous)} -> ${String(a.fingerprint)}; told ${(a.told as string[]).join(', ')}\n`);
      return 0;
    }
    default:
      throw usage('steward keys [list|accept <node>|revoke <node>|import <folder>|rotate [--to nodes]]');
  }
}

function usage(text: string): CliError {
  return new CliError(`usage: ${text}`, 2);
}
