import { createHash } from 'node:crypto';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeMessage } from '../../src/message/codec.js';
import { newId } from '../../src/message/id.js';
import type { Message } from '../../src/message/message.js';
import type { Keyring } from '../../src/trust/keyring.js';
import { pairFromSeed, type NkeyPair } from '../../src/trust/nkey.js';
import { PROOF_HEADER, Proofs, type Sealed } from '../../src/trust/proof.js';
import { readSeed } from '../support/rogue.js';
import { wireMessage, type FuzzContext } from './corpus.js';
import type { Rng } from './rng.js';
import { sendNats } from './send.js';
import type { NatsCase } from './types.js';

/**
 * Proofs of origin for the NATS inputs. Most are proven correctly as a real node (the fuzzer
 * holds the nodes' identity keys, as a thief of a node key would), so they reach the decoder and
 * the checks after it; the others are proven wrongly, and must each be refused before anything
 * of them is read:
 *
 * - mac, sig: a correct proof as the case's signer (a MAC with the pair key, or a signature);
 * - stranger: a correct proof by a key no node had, for a name no node had (pinned on first
 *   use; then the policy lets it say hello and report errors, nothing else);
 * - none: no proof headers; garbled: a proof that is not one; other-bytes: a correct proof over
 *   other bytes; other-subject: a correct proof made for another subject; wrong-key: a key that
 *   is not the one pinned for the name it claims.
 */
export const PROOF_MODES = ['mac', 'sig', 'stranger', 'none', 'garbled', 'other-bytes', 'other-subject', 'wrong-key'] as const;
export type ProofMode = (typeof PROOF_MODES)[number];

/** The new node name the `stranger` inputs claim (with a key of their own). */
export const STRANGER = 'stranger';

/** A proof mode for a non-canary input: mostly proven, so the decoder and the checks after the proof are reached. */
export function pickProofMode(rng: Rng): ProofMode {
  return rng.weighted<ProofMode>([
    [40, 'mac'],
    [38, 'sig'],
    [4, 'stranger'],
    [4, 'none'],
    [4, 'garbled'],
    [4, 'other-bytes'],
    [3, 'other-subject'],
    [3, 'wrong-key'],
  ]);
}

/** What the ACK of a wrongly proven input must say (the refusal comes before the payload is read). */
const REFUSAL: Partial<Record<ProofMode, RegExp>> = {
  none: /: unauthenticated: the message carries no proof of origin$/,
  garbled: /: the proof does not match the message/,
  'other-bytes': /: the proof does not match the message/,
  'other-subject': /: the proof does not match the message/,
  'wrong-key': /: the key does not match the one bound to /,
};

/** Which check refused an input, from its ACK's error: what the input reached. */
export function stageOf(error: string): string {
  if (error.startsWith('error: refused a message on ')) return 'proof';
  if (error.startsWith('error: malformed message on ')) return 'decoder';
  if (/^(it says it is from |message is for |method \S+ arrived on subject )/.test(error)) return 'address';
  if (error.startsWith('it is older than ')) return 'age';
  if (/^reply \S+ from \S+ refused: /.test(error)) return 'reply';
  if (/^(relay|relayed message|copy) refused: /.test(error)) return 'origin';
  if (error.startsWith('denied by the policy of ')) return 'policy';
  return 'method';
}

/** Methods the default policy lets any node send. */
const ANY_NODE_MAY = new Set(['REQHello', 'REQErrorLog']);

/** A key made from the run's seed: the same seed makes the same strangers. */
function derivedPair(seed: number, what: string): NkeyPair {
  return pairFromSeed(createHash('sha256').update(`steward-fuzz ${seed} ${what}`).digest());
}

export class WireProver {
  private readonly pairs: Record<string, NkeyPair>;
  private readonly impostor: NkeyPair;
  private readonly known: Record<string, string>;
  private readonly cache = new Map<string, Proofs>();

  /** `dirs`: the folders the nodes run in (their identity.nk is in etc/). */
  constructor(
    seed: number,
    private readonly central: string,
    dirs: Record<string, string>,
  ) {
    this.pairs = Object.fromEntries(Object.entries(dirs).map(([name, dir]) => [name, readSeed(path.join(dir, 'etc', 'identity.nk'))]));
    this.pairs[STRANGER] = derivedPair(seed, STRANGER);
    this.impostor = derivedPair(seed, 'impostor');
    this.known = Object.fromEntries(Object.entries(this.pairs).map(([n, p]) => [n, p.publicKey]));
  }

  /** The node that receives on `subject` (a relay subject names its target first, then the relay node). */
  receiverOf(subject: string): string {
    const t = subject.split('.');
    return t[2] === 'REQRelay' ? (t[1] ?? '') : (t[0] ?? '');
  }

  /** The headers `c` is sent with: its own, and its proof as its mode says (with what a short ACK must show). */
  headers(c: NatsCase): Sealed {
    const to = this.receiverOf(c.subject);
    const prove = (pair: NkeyPair, mac: boolean, subject = c.subject, payload: Uint8Array = c.payload): Sealed =>
      this.prover(c.signer, pair, mac).seal(subject, to, payload, c.headers);
    const own = this.pairs[c.signer] as NkeyPair;
    switch (c.proof) {
      case 'mac':
      case 'stranger':
        return prove(own, true);
      case 'sig':
        return prove(own, false);
      case 'none':
        return { headers: c.headers };
      case 'other-bytes':
        return prove(own, c.variant % 2 === 0, c.subject, Buffer.concat([c.payload, Buffer.from([c.variant & 0xff])]));
      case 'other-subject':
        return prove(own, c.variant % 2 === 0, c.proofSubject ?? `${to}.REQNone.EventACK`);
      case 'wrong-key':
        return prove(this.impostor, c.variant % 2 === 0);
      case 'garbled': {
        const h = prove(own, c.variant % 2 === 0).headers;
        // The header is `<from> <key> <proof>`: the proof is garbled, the name and key stay.
        const [from, key, p] = (h[PROOF_HEADER] as string).split(' ') as [string, string, string];
        const garbled = [
          `${p.slice(0, 10)}${p[10] === 'A' ? 'B' : 'A'}${p.slice(11)}`, // one character off (all of its bits are data)
          p.startsWith('m2.') ? `s2.${p.slice(3)}` : `m2.${p.slice(3)}`, // the other kind's name
          p.slice(0, 20), // cut short
          `x1.${p.slice(3)}`, // a kind no node knows
          p.slice(3), // no kind
        ];
        return { headers: { ...h, [PROOF_HEADER]: `${from} ${key} ${garbled[c.variant % garbled.length] as string}` } };
      }
    }
  }

  /**
   * The ACK inside an answer, checked: proven by the node that answered (for the key the proof
   * named), and what the case's proof allows (a wrongly proven input refused before it is read,
   * one proven correctly not refused at the proof, a node other than central accepted only for
   * what any node may send).
   */
  openAck(c: NatsCase, sent: Sealed, bytes: Uint8Array): { ack: string; note?: string } | { violation: string; label: string } {
    const receiver = this.receiverOf(c.subject);
    // The receiver proves its ACK for the name the input claimed (it knows that name's pinned key).
    const claimed = (sent.headers[PROOF_HEADER] ?? '').split(' ')[0] ?? '';
    const verifier = this.prover(
      this.pairs[claimed] === undefined ? this.central : claimed,
      this.pairs[claimed] ?? (this.pairs[this.central] as NkeyPair),
      false,
    );
    // The id the ACK is proven for: the one it names (a short ACK names none: it is proven by
    // the other half of the message's own MAC).
    let id = '';
    try {
      const body = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { body?: unknown }).body;
      const named = typeof body === 'string' ? (JSON.parse(body) as { id?: unknown }).id : undefined;
      if (typeof named === 'string') id = named;
    } catch {
      // Judged below.
    }
    const ack = verifier.openAck(bytes, receiver, id, sent);
    if (typeof ack === 'string') return { label: 'bad-ack', violation: `the answer is not an ACK proven by ${receiver}: ${ack}` };
    const refusal = REFUSAL[c.proof];
    // The NATS client trims header values where it reads them: a proof over "json " is over other bytes.
    const spaced = ['serial', 'cmp'].some((k) => c.headers[k] !== undefined && c.headers[k] !== c.headers[k]?.trim());
    const refusedAsIt = (error: string): boolean =>
      refusal !== undefined && (refusal.test(error) || (spaced && REFUSAL['other-bytes']?.test(error) === true));
    if (refusal !== undefined && !(ack.status === 'rejected' && typeof ack.error === 'string' && refusedAsIt(ack.error))) {
      return {
        label: 'misproven-taken',
        violation: `an input proven wrongly (${c.proof}) was answered ${JSON.stringify(ack).slice(0, 300)}`,
      };
    }
    if (refusal === undefined && ack.status === 'rejected' && stageOf(String(ack.error)) === 'proof') {
      if (!spaced)
        return { label: 'proven-refused', violation: `an input proven correctly (${c.proof}) was refused: ${String(ack.error)}` };
      return {
        ack: JSON.stringify(ack),
        note: 'proven, but refused at the proof: a serial or cmp header with spaces around it, which the NATS client trims',
      };
    }
    const method = c.subject.split('.')[1] ?? '';
    if (ack.status !== 'rejected' && c.signer !== this.central && !ANY_NODE_MAY.has(method)) {
      return {
        label: 'policy-bypassed',
        violation: `${c.signer} (not central) was let run ${method} on ${receiver}: ${JSON.stringify(ack).slice(0, 300)}`,
      };
    }
    return { ack: JSON.stringify(ack) };
  }

  /**
   * Proofs as `name` with `pair`: MACs for the nodes when `mac`, else signatures. Its keyring
   * takes only the nodes' own keys (it checks the ACKs), and binds nothing.
   */
  private prover(name: string, pair: NkeyPair, mac: boolean): Proofs {
    const id = `${name} ${pair.publicKey} ${mac}`;
    let p = this.cache.get(id);
    if (p === undefined) {
      const known = this.known;
      const keyring = {
        keyOf: (n: string) => (mac ? known[n] : undefined),
        check: (n: string, k: string) => (known[n] === k ? { ok: true } : { ok: false, error: `that is not the key of ${n}` }),
      } as unknown as Keyring;
      p = new Proofs({ name, pair }, keyring);
      this.cache.set(id, p);
    }
    return p;
  }
}

/**
 * Has each node bind the other's real key before any input is sent, as nodes that talked before
 * have: else an input with a wrong key that came first would have its key pinned for that name.
 */
export async function introduce(nc: NatsConnection, prover: WireProver, c: FuzzContext, timeoutMs: number): Promise<void> {
  const send = async (signer: string, subject: string, msg: Message): Promise<void> => {
    const e = await encodeMessage(msg, { serialization: 'cbor', compression: '' });
    const payload = Buffer.from(e.payload);
    const o = await sendNats(
      nc,
      { path: 'nats', index: -1, gen: 'introduce', subject, payload, headers: e.headers, sends: 1, proof: 'sig', signer, variant: 0 },
      timeoutMs,
      prover,
    );
    if (o.label !== 'ack ok') throw new Error(`${signer} could not introduce itself on ${subject}: ${o.label} ${o.violation ?? ''}`);
  };
  const quiet = { replyMethod: 'REQNone', directory: '', fileName: '', data: [] };
  await send(c.central, `${c.target}.REQNone.EventACK`, wireMessage(c, { ...quiet, method: 'REQNone' }, newId()));
  await send(
    c.target,
    `${c.central}.REQHello.EventNACK`,
    wireMessage(c, { ...quiet, method: 'REQHello', fromNode: c.target, toNode: c.central }, newId()),
  );
}
