import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './flags.js';

/** The operator token's file in the config folder. */
export function tokenFile(configFolder: string): string {
  return path.join(configFolder, 'token');
}

/**
 * The operator token: what the TCP and HTTP inputs (and the web console) ask of a client, made at
 * the first start (32 random bytes, base64url, mode 600), printed by `steward token`.
 */
export function loadToken(configFolder: string): string {
  const file = tokenFile(configFolder);
  try {
    const t = fs.readFileSync(file, 'utf8').trim();
    if (t.length < 16) throw new UsageError(`${file}: the operator token is too short; remove the file to make a new one`);
    return t;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`cannot read the operator token ${file}: ${(err as Error).message}`);
    }
  }
  const token = randomBytes(32).toString('base64url');
  fs.mkdirSync(configFolder, { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadToken(configFolder);
    throw new UsageError(`cannot write the operator token ${file}: ${(err as Error).message}`);
  }
  return token;
}

/** Whether `given` is the token (in constant time). */
export function tokenMatches(token: string, given: string): boolean {
  const a = Buffer.from(token);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
