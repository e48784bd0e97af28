import fs from 'node:fs';
import path from 'node:path';
import { NODE_NAME } from '../message/message.js';
import { pairFromSeedText, parseSeedFile } from '../trust/nkey.js';
import { CliError } from './client.js';

/**
 * The public keys of a fleet from a folder of key files: `<node>.pub` (a U... key) or `<node>.nk`
 * (its seed, as scripts/gen-nkey.mjs writes them). `only`: just these nodes, each required.
 */
export function readKeyFolder(dir: string, only?: readonly string[]): Map<string, string> {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw new CliError(`cannot read the key folder ${dir}: ${(err as Error).message}`, 2);
  }
  const keys = new Map<string, string>();
  for (const file of names.sort()) {
    const m = /^(.+)\.(pub|nk)$/.exec(file);
    if (m === null || !NODE_NAME.test(m[1] as string)) continue;
    const node = m[1] as string;
    if (only !== undefined && !only.includes(node)) continue;
    if (keys.has(node) && m[2] === 'nk') continue; // the .pub is enough
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    if (m[2] === 'pub') {
      const key = text.split(/\s+/).find((t) => /^U[A-Z2-7]{55}$/.test(t));
      if (key === undefined) throw new CliError(`${path.join(dir, file)} holds no public key (U...)`, 2);
      keys.set(node, key);
    } else {
      const pair = parseSeedFile(text);
      if ('problem' in pair) throw new CliError(`${path.join(dir, file)} ${pair.problem}`, 2);
      keys.set(node, pair.publicKey);
    }
  }
  for (const node of only ?? []) {
    if (!keys.has(node)) throw new CliError(`no key for ${node} in ${dir} (give ${node}.pub or ${node}.nk)`, 2);
  }
  return keys;
}

export { pairFromSeedText };
