import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../config/flags.js';
import { readFileFor } from '../config/tls.js';
import { pairFromSeed, parseSeedFile, type NkeyPair } from './nkey.js';

/**
 * The node's own Ed25519 key, which proves its messages: the seed of `-nkeySeedFile` when given
 * (one key per node, for the broker and for messages), else `<config folder>/identity.nk`, made
 * at the first start (mode 600). Read once at start: a missing or wrong file is a usage error
 * naming it.
 */
export function loadIdentity(cfg: { readonly nkeySeedFile: string | undefined; readonly identityFile: string }): NkeyPair {
  if (cfg.nkeySeedFile !== undefined) return readSeed('nkeySeedFile', cfg.nkeySeedFile);
  if (fs.existsSync(cfg.identityFile)) return readSeed('identity', cfg.identityFile);
  const pair = pairFromSeed(randomBytes(32));
  fs.mkdirSync(path.dirname(cfg.identityFile), { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(cfg.identityFile, `${pair.seedText}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another start made it meanwhile: that one is the key.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readSeed('identity', cfg.identityFile);
    throw new UsageError(`cannot write the node key ${cfg.identityFile}: ${(err as Error).message}`);
  }
  return pair;
}

function readSeed(flag: string, file: string): NkeyPair {
  const found = parseSeedFile(readFileFor(flag, file));
  if ('problem' in found) throw new UsageError(`-${flag}=${file}: the file ${found.problem}`);
  return found;
}
