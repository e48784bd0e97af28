import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, headers as natsHeaders, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { encodeMessage, type WireOptions } from '../../src/message/codec.js';
import { newMessage, type Message } from '../../src/message/message.js';
import type { Keyring } from '../../src/trust/keyring.js';
import { pairFromSeed, parseSeedFile, type NkeyPair } from '../../src/trust/nkey.js';
import { PROOF_HEADER, Proofs } from '../../src/trust/proof.js';

/**
 * The attacker that matters most: a client holding a real node's key (its identity.nk, or the
 * seed it uses for the broker), that proves what it publishes as that node, correctly. It knows
 * the public keys it is given (so it can MAC, as the real node would), else it signs.
 */
export class RogueNode {
  private constructor(
    readonly name: string,
    readonly pair: NkeyPair,
    private readonly nc: NatsConnection,
    private readonly proofs: Proofs,
    private readonly timeoutMs: number,
  ) {}

  /** Connects as `name` with the key in `seedFile` (also used for the broker when `brokerAuth`). */
  static async connect(
    brokerUrl: string,
    name: string,
    seedFile: string,
    o: { brokerAuth?: boolean; knownKeys?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<RogueNode> {
    const pair = readSeed(seedFile);
    const nc = await connect({
      servers: brokerUrl,
      name: `rogue-${name}`,
      inboxPrefix: `_INBOX.${name}`,
      ...(o.brokerAuth === true ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(pair.seedText)) } : {}),
    });
    return new RogueNode(name, pair, nc, proverFor(name, pair, o.knownKeys), o.timeoutMs ?? 30_000);
  }

  /** The identity file of a steward node started in `dir`. */
  static identityOf(dir: string): string {
    return path.join(dir, 'etc', 'identity.nk');
  }

  /** The headers proving `payload` on `subject` for `toNode` as this node. */
  seal(subject: string, toNode: string, payload: Uint8Array, headers: Record<string, string> = {}): Record<string, string> {
    return this.proofs.seal(subject, toNode, payload, headers).headers;
  }

  /** Encodes `msg`, proves it as this node and sends it as a request; resolves with the answer's text (an ACK). */
  async request(subject: string, msg: Message, wire: WireOptions = { serialization: 'cbor', compression: '' }): Promise<string> {
    const e = await encodeMessage(msg, wire);
    return this.requestRaw(subject, msg.toNode, e.payload, e.headers);
  }

  /** Sends bytes as a request, proven as this node (or with the headers given as they are, when `prove` is false). */
  async requestRaw(
    subject: string,
    toNode: string,
    payload: Uint8Array,
    headers: Record<string, string> = {},
    prove = true,
  ): Promise<string> {
    const sealed = prove ? this.proofs.seal(subject, toNode, payload, headers) : { headers };
    const h = natsHeaders();
    for (const [k, v] of Object.entries(sealed.headers)) h.set(k, v);
    const res = await this.nc.request(subject, payload, { timeout: this.timeoutMs, headers: h });
    const text = res.string();
    if (text.startsWith('a2 ')) {
      // A short ACK (a MACed message delivered): proven by the other half of the message's MAC.
      const ack = this.proofs.openAck(res.data, toNode, '', sealed);
      if (typeof ack === 'string') throw new Error(`${toNode} answered ${text}: ${ack}`);
      return JSON.stringify({ status: ack.status });
    }
    return ackText(text);
  }

  /** Publishes `msg` proven as this node, without waiting for an answer. */
  async publish(subject: string, msg: Message, wire: WireOptions = { serialization: 'cbor', compression: '' }): Promise<void> {
    const e = await encodeMessage(msg, wire);
    const h = natsHeaders();
    for (const [k, v] of Object.entries(this.seal(subject, msg.toNode, e.payload, e.headers))) h.set(k, v);
    this.nc.publish(subject, e.payload, { headers: h });
    await this.nc.flush();
  }

  /** Publishes bytes, proven as this node (or with the headers given as they are, when `prove` is false); see flush(). */
  publishRaw(subject: string, toNode: string, payload: Uint8Array, headers: Record<string, string> = {}, prove = true): void {
    const all = prove ? this.seal(subject, toNode, payload, headers) : headers;
    const h = natsHeaders();
    for (const [k, v] of Object.entries(all)) h.set(k, v);
    this.nc.publish(subject, payload, Object.keys(all).length === 0 ? {} : { headers: h });
  }

  async flush(): Promise<void> {
    await this.nc.flush();
  }

  get connection(): NatsConnection {
    return this.nc;
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

/** The key pair in a seed file (a node's identity.nk, or an nkey seed file). */
export function readSeed(seedFile: string): NkeyPair {
  const pair = parseSeedFile(fs.readFileSync(seedFile, 'utf8'));
  if ('problem' in pair) throw new Error(`${seedFile}: ${pair.problem}`);
  return pair;
}

/** Writes a new key's seed into `dir` (mode 600) and returns its file: a key no node has seen yet. */
export function writeFreshSeed(dir: string, label: string): string {
  const file = path.join(dir, `${label}.nk`);
  fs.writeFileSync(file, `${pairFromSeed(randomBytes(32)).seedText}\n`, { mode: 0o600 });
  return file;
}

/**
 * Proofs as `name` with `pair`, without a broker connection: MACs for the nodes in `knownKeys`
 * (as the real node would once it knows their keys), signatures for the others.
 */
export function proverFor(name: string, pair: NkeyPair, knownKeys: Record<string, string> = {}): Proofs {
  // A keyring that knows what the attacker was told, and takes every key it is shown.
  const keyring = { keyOf: (n: string) => knownKeys[n], check: () => ({ ok: true }) } as unknown as Keyring;
  return new Proofs({ name, pair }, keyring);
}

/** The ACK inside a proven answer (its body), or the answer itself. */
/** Headers `h` with fields of their proof header (`<from> <key> <proof>`) replaced. */
export function withProof(
  h: Record<string, string>,
  change: Partial<{ from: string; key: string; proof: string }>,
): Record<string, string> {
  const [from = '', key = '', proof = ''] = (h[PROOF_HEADER] ?? '').split(' ');
  const f = { from, key, proof, ...change };
  return { ...h, [PROOF_HEADER]: `${f.from} ${f.key} ${f.proof}` };
}

export function ackText(answer: string): string {
  try {
    const v = JSON.parse(answer) as { body?: unknown };
    return typeof v.body === 'string' ? v.body : answer;
  } catch {
    return answer;
  }
}

/**
 * Hellos to central from `count` new names (`<prefix>0`...), each proven by a fresh key of its own
 * and sent over a connection of its own, one after the other: what one stolen key could do to
 * mint identities.
 */
export async function helloFromNewNames(natsUrl: string, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-newname-'));
    try {
      fs.writeFileSync(path.join(dir, 'k.nk'), pairFromSeed(randomBytes(32)).seedText);
      const name = `${prefix}${i}`;
      const r = await RogueNode.connect(natsUrl, name, path.join(dir, 'k.nk'));
      await r.publish(
        'central.REQHello.EventNACK',
        newMessage({ toNode: 'central', fromNode: name, method: 'REQHello', ackTimeoutMs: 5000, retries: 0 }),
      );
      await r.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}
