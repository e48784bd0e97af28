import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { parseAck, type Ack } from '../message/ack.js';
import { NODE_NAME } from '../message/message.js';
import { pairKey, x25519PrivateOf } from './curve.js';
import { HmacKey } from './hmac-key.js';
import type { Keyring } from './keyring.js';
import { decodeUserPublicKey, type NkeyPair } from './nkey.js';

/** The header that carries a message's proof of origin: `<from> <key> <proof>`. */
export const PROOF_HEADER = 'st-proof';

/**
 * A message's proof headers; for a MACed message also what an ACK must show to say it was
 * delivered (`ackProof`: the other 16 bytes of its HMAC, base64url) and the receiver's key it was
 * MACed for (`peerKey`: the only key that may refuse it).
 */
export interface Sealed {
  readonly headers: Record<string, string>;
  readonly ackProof?: string;
  readonly peerKey?: string;
}

/** A message's proof checked: the name it may speak for, or why not. */
export type Opened = { ok: true; from: string; key: string; ackProof?: string } | { ok: false; error: string; from?: string };

/** The length of the ACK half of a MAC as base64url text (16 bytes). */
const HALF_CHARS = 22;

/**
 * Proofs of origin, checked before a payload is decompressed or decoded. A message carries its
 * sender's name, its public key and either a MAC (`m2.`) with the key the two nodes share (an
 * X25519 agreement of their identity keys, see curve.ts) or, when the sender does not know the
 * receiver's key yet, an Ed25519 signature (`s2.`). Both cover the subject, the sender's name,
 * the wire headers and the payload bytes, so a proof is good for one subject on one node only.
 *
 * The MAC is HMAC-SHA256 cut in two (as RFC 4868's HMAC-SHA-256-128): the message carries the
 * first 16 bytes; the receiver, which computes all 32 to check them, answers a message it
 * received with the other 16 (`a2 ok <them>`). Only the two nodes can compute that half, and it
 * is bound to the very bytes of the message, so the ACK is proven with no second MAC on either
 * side. Any other ACK (a refusal, or the answer to a signed message) carries a proof of its own.
 */
export class Proofs {
  private ownRaw: Buffer;
  private x25519: KeyObject;
  /** The MAC under the key shared with each peer, by its public key (null: no agreement with that key). */
  private readonly pairs = new Map<string, HmacKey | null>();
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

  /** The headers to add to a message for `toNode` on `subject`, and what its ACK must show. */
  seal(subject: string, toNode: string, payload: Uint8Array, headers: Record<string, string>): Sealed {
    const from = this.self.name;
    const prefix = proofPrefix(subject, from, headers);
    const peer = this.keyring.keyOf(toNode);
    const mac = peer === undefined ? undefined : this.pair(peer);
    let proof: string;
    let ackProof: string | undefined;
    if (mac !== undefined) {
      const t = mac.halves(prefix, payload);
      proof = `m2.${t.tag}`;
      ackProof = t.ack;
    } else {
      proof = `s2.${sign(null, Buffer.concat([Buffer.from(prefix), payload]), this.self.pair.privateKey).toString('base64url')}`;
    }
    const sealed = { ...headers, [PROOF_HEADER]: `${from} ${this.self.pair.publicKey} ${proof}` };
    return ackProof === undefined || peer === undefined ? { headers: sealed } : { headers: sealed, ackProof, peerKey: peer };
  }

  /**
   * Checks a message's proof and the binding of its key to the name it claims. The name it may
   * speak for, or why not (nothing of the payload has been read).
   */
  open(subject: string, payload: Uint8Array, header: (name: string) => string): Opened {
    const [from, key, proof, extra] = header(PROOF_HEADER).split(' ', 4);
    if (from === undefined || from === '' || key === undefined || proof === undefined || extra !== undefined)
      return { ok: false, error: 'unauthenticated: the message carries no proof of origin' };
    if (!NODE_NAME.test(from)) return { ok: false, error: 'the proof names no valid node' };
    const checked = this.check(proof, key, proofPrefix(subject, from, { serial: header('serial'), cmp: header('cmp') }), payload);
    if (checked === undefined) return { ok: false, error: `the proof's key is not a public key`, from };
    if (checked === false) {
      return { ok: false, error: `the proof does not match the message (bad proof, or one made for other bytes or another subject)`, from };
    }
    // Only a key shown to be held can bind, or conflict with, a name.
    const verdict = this.keyring.check(from, key);
    if (!verdict.ok) return { ok: false, error: verdict.error, from };
    return checked === true ? { ok: true, from, key } : { ok: true, from, key, ackProof: checked };
  }

  /**
   * An ACK's bytes, proven for `toNode` (the sender of the message it answers): a delivering ACK
   * of a MACed message shows the other half of its HMAC (`ackProof`, from open); any other is
   * proven with the key that message was proven by (`peerKey`: the one bound now may have changed
   * meanwhile, a rotation).
   */
  sealAck(ack: Ack, toNode: string, id: string, peerKey?: string, ackProof?: string): string {
    if (ackProof !== undefined && ack.status !== 'rejected') return `a2 ${ack.status} ${ackProof}`;
    const body = JSON.stringify(ack);
    const peer = peerKey ?? this.keyring.keyOf(toNode);
    const mac = peer === undefined ? undefined : this.pair(peer);
    const data = `steward-ack-v2\n${id}\n${body}`;
    const proof =
      mac !== undefined
        ? `m2.${mac.halves(data).tag}`
        : `s2.${sign(null, Buffer.from(data), this.self.pair.privateKey).toString('base64url')}`;
    return JSON.stringify({ body, from: this.self.name, key: this.self.pair.publicKey, proof });
  }

  /**
   * The ACK inside `bytes` when it is proven by `fromNode` (the node the request went to) for
   * message `id` (`sealed`: what seal gave for it); a string says why it does not count. A MACed
   * message is delivered only by the short ACK that shows the other half of its HMAC, and refused
   * only by the key it was MACed for: not by a previous key of the node's still in its grace time
   * after a rotation (a stolen key, maybe).
   */
  openAck(bytes: Uint8Array, fromNode: string, id: string, sealed?: Pick<Sealed, 'ackProof' | 'peerKey'>): string | Ack {
    const ackProof = sealed?.ackProof;
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    if (text.startsWith('a2 ')) {
      // A delivering ACK of a MACed message, `a2 <ok|duplicate> <the other half of its HMAC>`: the
      // answer to every message of a burst, so read without a regular expression.
      const status = text.slice(3, -HALF_CHARS - 1);
      if ((status !== 'ok' && status !== 'duplicate') || text[text.length - HALF_CHARS - 1] !== ' ') return 'the ACK is malformed';
      if (ackProof === undefined) return 'a short ACK answers only a MACed message';
      if (!sameText(text.slice(-HALF_CHARS), ackProof)) return 'the ACK is not proven by its key';
      return { id, status };
    }
    let v: { body?: unknown; from?: unknown; key?: unknown; proof?: unknown } | null;
    try {
      v = JSON.parse(text) as typeof v;
    } catch {
      return 'the answer is not an ACK';
    }
    if (typeof v !== 'object' || v === null) return 'the answer is not an ACK';
    if (typeof v.body !== 'string' || typeof v.from !== 'string' || typeof v.key !== 'string' || typeof v.proof !== 'string') {
      return 'the ACK carries no proof of origin';
    }
    if (v.from !== fromNode) return `the ACK is from ${v.from.slice(0, 130)}, not from ${fromNode}`;
    const checked = this.check(v.proof, v.key, `steward-ack-v2\n${id}\n${v.body}`, new Uint8Array(0));
    if (checked === undefined) return "the ACK's key is not a public key";
    if (checked === false) return 'the ACK is not proven by its key';
    const verdict = this.keyring.check(fromNode, v.key);
    if (!verdict.ok) return `the ACK's key is not accepted for ${fromNode}: ${verdict.error}`;
    let ack: Ack;
    try {
      ack = parseAck(Buffer.from(v.body), id);
    } catch (err) {
      return (err as Error).message;
    }
    if (ackProof !== undefined) {
      if (ack.status !== 'rejected') return 'a MACed message is delivered only by a short ACK';
      if (v.key !== sealed?.peerKey) return `the refusal is proven by another key of ${fromNode} than the one the message was MACed for`;
    }
    return ack;
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

  /**
   * Whether `proof` holds; for a MAC, the half of it that proves the ACK. Undefined: `key` is not
   * a public key (a MAC's key is decoded only the first time it is seen).
   */
  private check(proof: string, key: string, prefix: string, payload: Uint8Array): boolean | string | undefined {
    const kind = proof.slice(0, 3);
    if (kind === 'm2.') {
      const mac = this.pair(key);
      if (mac === undefined) return decodeUserPublicKey(key) === undefined ? undefined : false;
      const t = mac.halves(prefix, payload);
      // Compared as text, as sent (one native call less than decoding it, on every message).
      return sameText(t.tag, proof.slice(3)) && t.ack;
    }
    const raw = decodeUserPublicKey(key);
    if (raw === undefined) return undefined;
    if (kind === 's2.') {
      try {
        return verify(
          null,
          Buffer.concat([Buffer.from(prefix), payload]),
          this.edPublic(key, raw),
          Buffer.from(proof.slice(3), 'base64url'),
        );
      } catch {
        return false;
      }
    }
    return false;
  }

  private pair(key: string): HmacKey | undefined {
    let k = this.pairs.get(key);
    if (k === undefined) {
      const raw = decodeUserPublicKey(key);
      const shared = raw === undefined ? undefined : pairKey(this.x25519, this.ownRaw, raw);
      k = shared === undefined ? null : new HmacKey(shared);
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

/** Whether two strings are equal, in a time that does not tell where they differ. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The sender a message claims in its proof header (for the error line of one that did not hold). */
export function claimedSender(header: (name: string) => string): string {
  return (header(PROOF_HEADER).split(' ', 1)[0] ?? '').slice(0, 130);
}

/** What a proof covers before the payload: a version, the subject, the sender, the wire headers. */
function proofPrefix(subject: string, from: string, headers: Record<string, string>): string {
  return `steward-proof-v2\n${subject}\n${from}\n${headers.serial ?? ''}\n${headers.cmp ?? ''}\n`;
}
