import { UsageError } from '../config/flags.js';
import { readFileFor } from '../config/tls.js';
import { parseSeedFile, type NkeyPair } from './nkey.js';

/**
 * The node's own key: the seed of `-nkeySeedFile` when given (the key the broker authenticates).
 * Read once at start: a missing or wrong file is a usage error naming it.
 */
export function loadIdentity(cfg: { readonly nkeySeedFile: string | undefined }): NkeyPair | undefined {
  if (cfg.nkeySeedFile === undefined) return undefined;
  const found = parseSeedFile(readFileFor('nkeySeedFile', cfg.nkeySeedFile));
  if ('problem' in found) throw new UsageError(`-nkeySeedFile=${cfg.nkeySeedFile}: the file ${found.problem}`);
  return found;
}
