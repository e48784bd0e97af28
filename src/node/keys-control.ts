import { NODE_NAME } from '../message/message.js';
import type { KeyRecord } from '../store/keys.js';
import { fingerprint, type Keyring } from '../trust/keyring.js';
import { ControlError } from './control.js';

export interface KeysControlDeps {
  readonly keyring: Keyring;
  readonly self: { readonly name: string; readonly publicKey: () => string };
  readonly mode: string;
  readonly trustOn: boolean;
  /** Rotates this node's key (rotation.ts); the nodes told. */
  readonly rotate: (to: readonly string[] | undefined) => Promise<object>;
}

/** The operator requests about keys (`steward keys ...`), see docs/operator-protocol.md. */
export function keysControl(d: KeysControlDeps): Record<string, (req: Record<string, unknown>) => Promise<object>> {
  const row = (r: KeyRecord): object => ({ ...r, fingerprint: fingerprint(r.publicKey) });
  const nodeOf = (req: Record<string, unknown>): string => {
    if (typeof req.node !== 'string' || !NODE_NAME.test(req.node)) throw new ControlError('the request needs "node": a node name');
    return req.node;
  };
  return {
    keys: async () => ({
      self: { name: d.self.name, publicKey: d.self.publicKey(), fingerprint: fingerprint(d.self.publicKey()) },
      mode: d.trustOn ? d.mode : 'off',
      keys: d.keyring.list().map(row),
    }),
    'keys-accept': async (req) => row(await d.keyring.accept(nodeOf(req))),
    'keys-revoke': async (req) => row(await d.keyring.revoke(nodeOf(req))),
    'keys-import': async (req) => {
      const keys = req.keys;
      if (keys === null || typeof keys !== 'object' || Array.isArray(keys))
        throw new ControlError('the request needs "keys": {node: "U..."}');
      const map = new Map<string, string>();
      for (const [name, key] of Object.entries(keys as Record<string, unknown>)) {
        if (!NODE_NAME.test(name) || typeof key !== 'string' || !/^U[A-Z2-7]{55}$/.test(key)) {
          throw new ControlError(`"${name.slice(0, 130)}": not a node name with a public key (U...)`);
        }
        map.set(name, key);
      }
      return { imported: await d.keyring.import(map) };
    },
    'keys-rotate': async (req) => {
      const to = Array.isArray(req.to) ? req.to.filter((x): x is string => typeof x === 'string') : undefined;
      return d.rotate(to);
    },
  };
}
