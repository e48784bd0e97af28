import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Db } from '../../src/store/db.js';
import { KeyStore } from '../../src/store/keys.js';
import { pairFromSeed } from '../../src/trust/nkey.js';

/**
 * Gives each of `names` its node key (`<dirOf(name)>/etc/identity.nk`, which the node reads at
 * start) and binds those keys in the store in `databaseFolder` of a node that has not started
 * yet, as an import of the fleet's keys does. Pinned on first use, a fleet joins at ten new
 * names a minute (src/trust/keyring.ts, NEW_NAMES_PER_MINUTE): a thousand nodes would take 100
 * minutes to say their first hello.
 */
export async function provisionKeys(databaseFolder: string, names: readonly string[], dirOf: (name: string) => string): Promise<void> {
  const db = new Db(databaseFolder);
  try {
    const store = new KeyStore(db);
    const now = Date.now();
    await Promise.all(
      names.map((name) => {
        const pair = pairFromSeed(randomBytes(32));
        const etc = path.join(dirOf(name), 'etc');
        fs.mkdirSync(etc, { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(etc, 'identity.nk'), `${pair.seedText}\n`, { mode: 0o600 });
        return store.put({
          name,
          publicKey: pair.publicKey,
          state: 'pinned',
          source: 'import',
          firstSeenMs: now,
          lastSeenMs: now,
          previousKey: null,
          rotatedMs: null,
        });
      }),
    );
  } finally {
    db.close();
  }
}
