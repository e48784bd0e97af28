import { createHash } from 'node:crypto';
import type { KeyRecord, KeySource, KeyStore } from '../store/keys.js';
import { decodeUserPublicKey } from './nkey.js';

/** How a name this node has never seen gets its key bound: on first use (as SSH), or by an operator. */
export const TRUST_MODES = ['tofu', 'manual'] as const;
export type TrustMode = (typeof TRUST_MODES)[number];

/** How long a rotated node's previous key is still accepted (messages it sent before it switched). */
export const ROTATION_GRACE_MS = 7 * 24 * 3600 * 1000;
/** New names bound on first use at most per minute: one stolen key cannot mint thousands of identities. */
export const NEW_NAMES_PER_MINUTE = 10;
/** Keys waiting for `steward keys accept` at most (manual mode); further new names are refused. */
const MAX_PENDING = 1000;

export type Verdict =
  { ok: true; pinned?: 'now' } | { ok: false; code: 'conflict' | 'revoked' | 'pending' | 'unknown' | 'rate' | 'bad-key'; error: string };
const OK: Verdict = Object.freeze({ ok: true });

/** Something about keys worth an error line at central and an audit line. */
export interface KeyEvent {
  readonly kind: 'pinned' | 'pending' | 'conflict' | 'refused' | 'rotated' | 'accepted' | 'revoked';
  readonly name: string;
  readonly publicKey: string;
  readonly text: string;
}

export interface KeyringOptions {
  readonly store: KeyStore;
  readonly selfName: string;
  selfKey: string;
  readonly mode: TrustMode;
  readonly centralName: string;
  /** New names bound or put to wait at most per minute (default NEW_NAMES_PER_MINUTE). */
  readonly newNamesPerMinute?: number;
  /** Central's key given with -centralPublicKey: bound before anything is heard. */
  readonly centralKey?: string | undefined;
  readonly now?: () => number;
  readonly onEvent: (ev: KeyEvent) => void;
}

/** `SHA256:<base64>` of a public key, as SSH prints fingerprints. */
export function fingerprint(publicKey: string): string {
  const raw = decodeUserPublicKey(publicKey);
  return `SHA256:${createHash('sha256')
    .update(raw ?? Buffer.from(publicKey))
    .digest('base64')
    .replace(/=+$/, '')}`;
}

/**
 * The binding of node names to public keys. A message is accepted only when the key that proves
 * it is the one bound to the name it claims: the first key seen for a name is pinned (tofu, at a
 * bounded rate) or waits for an operator (manual); another key for a pinned name is refused and
 * reported, as SSH refuses a changed host key. Once keys were imported (`steward keys import`),
 * names not imported are refused.
 */
export class Keyring {
  private readonly byName = new Map<string, KeyRecord>();
  private readonly o: KeyringOptions;
  private tokens: number;
  private readonly perMinute: number;
  private refilledMs: number;
  private readonly now: () => number;
  /** Keys were imported: a name not among them is refused, never pinned. */
  private provisioned: boolean;

  constructor(o: KeyringOptions) {
    this.o = { ...o };
    this.perMinute = o.newNamesPerMinute ?? NEW_NAMES_PER_MINUTE;
    this.tokens = this.perMinute;
    this.now = o.now ?? Date.now;
    this.refilledMs = this.now();
    for (const r of o.store.all()) this.byName.set(r.name, r);
    this.provisioned = [...this.byName.values()].some((r) => r.source === 'import');
  }

  /** Binds -centralPublicKey at start (it wins over a key pinned earlier, which is reported). */
  async provisionCentral(): Promise<void> {
    const key = this.o.centralKey;
    if (key === undefined || this.o.centralName === this.o.selfName) return;
    const known = this.byName.get(this.o.centralName);
    if (known?.publicKey === key && known.state === 'pinned') return;
    if (known !== undefined && known.publicKey !== key) {
      this.o.onEvent({
        kind: 'rotated',
        name: this.o.centralName,
        publicKey: key,
        text: `info: the key of ${this.o.centralName} was set by -centralPublicKey (${fingerprint(key)}), replacing ${fingerprint(known.publicKey)}`,
      });
    }
    await this.write(this.record(this.o.centralName, key, 'pinned', 'provisioned', known));
  }

  /** Whether `publicKey` may speak for `name` now; binds it on first use when that is allowed. */
  check(name: string, publicKey: string): Verdict {
    const known = name === this.o.selfName ? undefined : this.byName.get(name);
    // Every message of a known node comes this way first: its pinned key (checked when it was bound).
    if (known !== undefined && known.publicKey === publicKey && known.state === 'pinned') return this.seen(known);
    if (decodeUserPublicKey(publicKey) === undefined)
      return { ok: false, code: 'bad-key', error: `the key given for ${name} is not a public key (U...)` };
    if (name === this.o.selfName) {
      return publicKey === this.o.selfKey ? { ok: true } : this.conflict(name, publicKey, this.o.selfKey, 'this node itself');
    }
    const now = this.now();
    if (known !== undefined) {
      if (known.state === 'revoked' && known.publicKey !== publicKey) {
        // A new key for a revoked name (a reinstalled node, or whoever stole the old one) waits
        // for an operator whatever the mode.
        if (!this.take()) return { ok: false, code: 'rate', error: `too many new keys: ${name} refused for now` };
        void this.write({ ...this.record(name, publicKey, 'pending', 'manual', known), previousKey: known.publicKey });
        this.report(
          'pending',
          name,
          publicKey,
          `info: ${name}, whose key was revoked, presents a new key ${fingerprint(publicKey)}: it waits for steward keys accept ${name}`,
        );
        return {
          ok: false,
          code: 'pending',
          error: `the new key of ${name} (${fingerprint(publicKey)}) waits for an operator: steward keys accept ${name}`,
        };
      }
      if (known.publicKey !== publicKey) {
        const inGrace = known.previousKey === publicKey && known.rotatedMs !== null && now - known.rotatedMs < ROTATION_GRACE_MS;
        if (inGrace && known.state === 'pinned') return { ok: true };
        return this.conflict(name, publicKey, known.publicKey, known.state);
      }
      if (known.state === 'revoked')
        return { ok: false, code: 'revoked', error: `the key of ${name} (${fingerprint(publicKey)}) was revoked` };
      if (known.state === 'pending') {
        return {
          ok: false,
          code: 'pending',
          error: `the key of ${name} (${fingerprint(publicKey)}) waits for an operator: steward keys accept ${name}`,
        };
      }
      return this.seen(known);
    }
    if (this.provisioned) {
      this.report(
        'refused',
        name,
        publicKey,
        `error: a message claims to be from ${name}, a name that is not among the imported keys (key ${fingerprint(publicKey)}): refused`,
      );
      return { ok: false, code: 'unknown', error: `${name} is not a known node (its key was not imported)` };
    }
    if (!this.take()) {
      return {
        ok: false,
        code: 'rate',
        error: `too many new node names (more than ${this.perMinute} a minute): ${name} refused for now`,
      };
    }
    if (this.o.mode === 'manual') {
      if (this.o.store.count('pending') >= MAX_PENDING)
        return { ok: false, code: 'rate', error: `too many keys wait for acceptance: ${name} refused` };
      void this.write(this.record(name, publicKey, 'pending', 'manual', undefined));
      this.report(
        'pending',
        name,
        publicKey,
        `info: a new node ${name} (key ${fingerprint(publicKey)}) waits for acceptance: steward keys accept ${name}`,
      );
      return {
        ok: false,
        code: 'pending',
        error: `the key of ${name} (${fingerprint(publicKey)}) waits for an operator: steward keys accept ${name}`,
      };
    }
    void this.write(this.record(name, publicKey, 'pinned', 'tofu', undefined));
    this.report('pinned', name, publicKey, `info: pinned the key of new node ${name} on first use (${fingerprint(publicKey)})`);
    return { ok: true, pinned: 'now' };
  }

  /** The key bound to `name` that messages to it are authenticated for (pinned only). */
  keyOf(name: string): string | undefined {
    if (name === this.o.selfName) return this.o.selfKey;
    const r = this.byName.get(name);
    return r?.state === 'pinned' ? r.publicKey : undefined;
  }

  /** This node's own key changed (a rotation). */
  setSelfKey(key: string): void {
    this.o.selfKey = key;
  }

  list(): KeyRecord[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): KeyRecord | undefined {
    return this.byName.get(name);
  }

  /** `steward keys accept <name>`: a pending (or revoked) key becomes pinned. */
  async accept(name: string): Promise<KeyRecord> {
    const r = this.byName.get(name);
    if (r === undefined) throw new Error(`no key is known for ${name}`);
    await this.write({ ...r, state: 'pinned', source: r.source === 'tofu' ? 'tofu' : 'manual' });
    this.report('accepted', name, r.publicKey, `info: an operator accepted the key of ${name} (${fingerprint(r.publicKey)})`);
    return this.byName.get(name) as KeyRecord;
  }

  /** `steward keys revoke <name>`: messages proven by its key are refused from now on. */
  async revoke(name: string): Promise<KeyRecord> {
    const r = this.byName.get(name);
    if (r === undefined) throw new Error(`no key is known for ${name}`);
    await this.write({ ...r, state: 'revoked', previousKey: null, rotatedMs: null });
    this.report('revoked', name, r.publicKey, `info: an operator revoked the key of ${name} (${fingerprint(r.publicKey)})`);
    return this.byName.get(name) as KeyRecord;
  }

  /** `steward keys import`: binds each name to its key; from then on, names not imported are refused. */
  async import(keys: ReadonlyMap<string, string>): Promise<{ name: string; publicKey: string; change: 'added' | 'same' | 'replaced' }[]> {
    const out: { name: string; publicKey: string; change: 'added' | 'same' | 'replaced' }[] = [];
    for (const [name, publicKey] of keys) {
      if (name === this.o.selfName) continue;
      const known = this.byName.get(name);
      const change = known === undefined ? 'added' : known.publicKey === publicKey && known.state === 'pinned' ? 'same' : 'replaced';
      await this.write(this.record(name, publicKey, 'pinned', 'import', known));
      out.push({ name, publicKey, change });
    }
    this.provisioned = true;
    return out;
  }

  /** A rotation proven by the node's current key: the new key is bound, the old one accepted for a grace time. */
  async rotate(name: string, newKey: string): Promise<void> {
    const r = this.byName.get(name);
    if (r === undefined || r.state !== 'pinned') throw new Error(`${name} has no pinned key to rotate`);
    if (r.publicKey === newKey) return;
    await this.write({
      ...r,
      publicKey: newKey,
      source: 'rotated',
      previousKey: r.publicKey,
      rotatedMs: this.now(),
      lastSeenMs: this.now(),
    });
    this.report(
      'rotated',
      name,
      newKey,
      `info: ${name} rotated its key to ${fingerprint(newKey)} (proven by its previous key ${fingerprint(r.publicKey)})`,
    );
  }

  /** A known node was heard from: its last-seen time is written at most once a minute. */
  private seen(known: KeyRecord): Verdict {
    const now = this.now();
    if (now - known.lastSeenMs > 60_000) {
      known.lastSeenMs = now;
      this.o.store.seen(known.name, now);
    }
    return OK;
  }

  private conflict(name: string, claimed: string, bound: string, state: string): Verdict {
    this.report(
      'conflict',
      name,
      claimed,
      `error: a message claims to be from ${name} with key ${fingerprint(claimed)}, but ${name} is bound to ${fingerprint(bound)} (${state}): refused (if ${name} was reinstalled: steward keys revoke ${name}; its new key then waits for steward keys accept ${name})`,
    );
    return { ok: false, code: 'conflict', error: `the key does not match the one bound to ${name} (${fingerprint(bound)})` };
  }

  private record(name: string, publicKey: string, state: KeyRecord['state'], source: KeySource, known: KeyRecord | undefined): KeyRecord {
    const now = this.now();
    return { name, publicKey, state, source, firstSeenMs: known?.firstSeenMs ?? now, lastSeenMs: now, previousKey: null, rotatedMs: null };
  }

  private async write(r: KeyRecord): Promise<void> {
    this.byName.set(r.name, r);
    await this.o.store.put(r);
  }

  private report(kind: KeyEvent['kind'], name: string, publicKey: string, text: string): void {
    this.o.onEvent({ kind, name, publicKey, text });
  }

  private take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.perMinute, this.tokens + ((now - this.refilledMs) / 60_000) * this.perMinute);
    this.refilledMs = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
