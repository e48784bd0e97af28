import { createHmac, createPublicKey, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { NODE_NAME } from '../message/message.js';
import { pairKey, x25519PrivateOf } from './curve.js';
import type { Keyring } from './keyring.js';
import { decodeUserPublicKey, type NkeyPair } from './nkey.js';

/** The headers that carry a message's proof of origin. */
export const PROOF_HEADERS = { from: 'st-from', key: 'st-key', proof: 'st-proof' } as const;

/**
 * Proofs of origin, checked before a payload is decompressed or decoded. A message carries its
 * sender's name and public key, and either a MAC (`m1.`) with the key the two nodes share (an
 * X25519 agreement of their identity keys, see curve.ts: about 3 µs) or, when the sender does
 * not know the receiver's key yet, an Ed25519 signature (`s1.`). Both cover the subject, the
 * sender's name, the wire headers and the payload bytes, so a proof is good for one subject on
 * one node only. ACKs are proven the same way back.
 */
export class Proofs {
  private ownRaw: Buffer;
  private x25519: KeyObject;
  /** Shared MAC keys by peer public key. */
  private readonly pairs = new Map<string, Buffer | null>();
  private readonly publicKeys = new Map<string, KeyObject>();

  constructor(
    private self: { readonly name: string; readonly pair: NkeyPair },
    private readonly keyring: Keyring,
  ) {
    this.ownRaw = decodeUserPublicKey(self.pair.publicKey) as Buffer;
    this.x25519 = x25519PrivateOf(self.pair.seed);
  }

  get publicKey(): string {
    return this.self.pair.publicKey;
  }

  /** From now on this node proves with `pair` (a key rotation). */
  rotateTo(pair: NkeyPair): void {
    this.self = { name: this.self.name, pair };
    this.ownRaw = decodeUserPublicKey(pair.publicKey) as Buffer;
    this.x25519 = x25519PrivateOf(pair.seed);
    this.pairs.clear();
  }

  /** Signs with a key of this node's other than its current one (a new key proving a rotation). */
  static signWith(pair: NkeyPair, data: Uint8Array): string {
    return sign(null, data, pair.privateKey).toString('base64url');
  }

  /** The headers to add to a message for `toNode` on `subject`. */
  seal(subject: string, toNode: string, payload: Uint8Array, headers: Record<string, string>): Record<string, string> {
    const from = this.self.name;
    const prefix = proofPrefix(subject, from, headers);
    const peer = this.keyring.keyOf(toNode);
    const mac = peer === undefined ? undefined : this.pair(peer);
    const proof =
      mac !== undefined
        ? `m1.${createHmac('sha256', mac).update(prefix).update(payload).digest('base64url')}`
        : `s1.${sign(null, Buffer.concat([prefix, payload]), this.self.pair.privateKey).toString('base64url')}`;
    return { ...headers, [PROOF_HEADERS.from]: from, [PROOF_HEADERS.key]: this.self.pair.publicKey, [PROOF_HEADERS.proof]: proof };
  }

  /**
   * Checks a message's proof and the binding of its key to the name it claims. The name it may
   * speak for, or why not (nothing of the payload has been read).
   */
  open(
    subject: string,
    payload: Uint8Array,
    header: (name: string) => string,
  ): { ok: true; from: string; key: string } | { ok: false; error: string; from?: string } {
    const from = header(PROOF_HEADERS.from);
    const key = header(PROOF_HEADERS.key);
    const proof = header(PROOF_HEADERS.proof);
    if (from === '' || key === '' || proof === '') return { ok: false, error: 'unauthenticated: the message carries no proof of origin' };
    if (!NODE_NAME.test(from)) return { ok: false, error: 'the proof names no valid node' };
    const raw = decodeUserPublicKey(key);
    if (raw === undefined) return { ok: false, error: `the proof's key is not a public key`, from };
    const headers = { serial: header('serial'), cmp: header('cmp') };
    if (!this.check(proof, key, raw, proofPrefix(subject, from, headers), payload)) {
      return { ok: false, error: `the proof does not match the message (bad proof, or one made for other bytes or another subject)`, from };
    }
    // Only a key shown to be held can bind, or conflict with, a name.
    const verdict = this.keyring.check(from, key);
    if (!verdict.ok) return { ok: false, error: verdict.error, from };
    return { ok: true, from, key };
  }

  /**
   * An ACK's bytes, proven for `toNode` (the sender of the message it answers), with the key that
   * message was proven by (`peerKey`: the one bound now may have changed meanwhile, a rotation).
   */
  sealAck(ack: object, toNode: string, id: string, peerKey?: string): string {
    const body = JSON.stringify(ack);
    const peer = peerKey ?? this.keyring.keyOf(toNode);
    const mac = peer === undefined ? undefined : this.pair(peer);
    const data = Buffer.from(`steward-ack-v1\n${id}\n${body}`);
    const proof =
      mac !== undefined
        ? `m1.${createHmac('sha256', mac).update(data).digest('base64url')}`
        : `s1.${sign(null, data, this.self.pair.privateKey).toString('base64url')}`;
    return JSON.stringify({ body, from: this.self.name, key: this.self.pair.publicKey, proof });
  }

  /**
   * The ACK inside `bytes` when it is proven by `fromNode` (the node the request went to) for
   * message `id`; a string says why it does not count.
   */
  openAck(bytes: Uint8Array, fromNode: string, id: string): string | { body: string } {
    let v: { body?: unknown; from?: unknown; key?: unknown; proof?: unknown };
    try {
      v = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof v;
    } catch {
      return 'the answer is not an ACK';
    }
    if (typeof v.body !== 'string' || typeof v.from !== 'string' || typeof v.key !== 'string' || typeof v.proof !== 'string') {
      return 'the ACK carries no proof of origin';
    }
    if (v.from !== fromNode) return `the ACK is from ${v.from.slice(0, 130)}, not from ${fromNode}`;
    const raw = decodeUserPublicKey(v.key);
    if (raw === undefined) return "the ACK's key is not a public key";
    if (!this.check(v.proof, v.key, raw, Buffer.from(`steward-ack-v1\n${id}\n${v.body}`), new Uint8Array(0)))
      return 'the ACK is not proven by its key';
    const verdict = this.keyring.check(fromNode, v.key);
    if (!verdict.ok) return `the ACK's key is not accepted for ${fromNode}: ${verdict.error}`;
    return { body: v.body };
  }

  /** Signs bytes with this node's identity (relayed messages carry their origin's signature). */
  signBytes(data: Uint8Array): string {
    return sign(null, data, this.self.pair.privateKey).toString('base64url');
  }

  /** Checks a signature by `publicKey` over `data`. */
  verifyBytes(publicKey: string, data: Uint8Array, signature: string): boolean {
    const raw = decodeUserPublicKey(publicKey);
    if (raw === undefined) return false;
    try {
      return verify(null, data, this.edPublic(publicKey, raw), Buffer.from(signature, 'base64url'));
    } catch {
      return false;
    }
  }

  private check(proof: string, key: string, raw: Buffer, prefix: Uint8Array, payload: Uint8Array): boolean {
    const dot = proof.indexOf('.');
    const kind = proof.slice(0, dot);
    const value = Buffer.from(proof.slice(dot + 1), 'base64url');
    if (kind === 'm1') {
      const mac = this.pair(key, raw);
      if (mac === undefined || value.length !== 32) return false;
      return timingSafeEqual(createHmac('sha256', mac).update(prefix).update(payload).digest(), value);
    }
    if (kind === 's1') {
      try {
        return verify(null, Buffer.concat([prefix, payload]), this.edPublic(key, raw), value);
      } catch {
        return false;
      }
    }
    return false;
  }

  private pair(key: string, known?: Buffer): Buffer | undefined {
    let k = this.pairs.get(key);
    if (k === undefined) {
      const raw = known ?? decodeUserPublicKey(key);
      k = raw === undefined ? null : (pairKey(this.x25519, this.ownRaw, raw) ?? null);
      if (this.pairs.size > 10_000) this.pairs.clear();
      this.pairs.set(key, k);
    }
    return k ?? undefined;
  }

  private edPublic(key: string, raw: Buffer): KeyObject {
    let k = this.publicKeys.get(key);
    if (k === undefined) {
      k = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
      if (this.publicKeys.size > 10_000) this.publicKeys.clear();
      this.publicKeys.set(key, k);
    }
    return k;
  }
}

/** What a proof covers before the payload: a version, the subject, the sender, the wire headers. */
function proofPrefix(subject: string, from: string, headers: Record<string, string>): Buffer {
  return Buffer.from(`steward-proof-v1\n${subject}\n${from}\n${headers.serial ?? ''}\n${headers.cmp ?? ''}\n`);
}
