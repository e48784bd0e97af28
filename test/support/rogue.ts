import fs from 'node:fs';
import path from 'node:path';
import { connect, headers as natsHeaders, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { encodeMessage, type WireOptions } from '../../src/message/codec.js';
import type { Message } from '../../src/message/message.js';
import type { Keyring } from '../../src/trust/keyring.js';
import { parseSeedFile, type NkeyPair } from '../../src/trust/nkey.js';
import { Proofs } from '../../src/trust/proof.js';

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
  ) {}

  /** Connects as `name` with the key in `seedFile` (also used for the broker when `brokerAuth`). */
  static async connect(
    brokerUrl: string,
    name: string,
    seedFile: string,
    o: { brokerAuth?: boolean; knownKeys?: Record<string, string> } = {},
  ): Promise<RogueNode> {
    const pair = parseSeedFile(fs.readFileSync(seedFile, 'utf8'));
    if ('problem' in pair) throw new Error(`${seedFile}: ${pair.problem}`);
    const known = o.knownKeys ?? {};
    // A keyring that knows what the attacker was told, and takes every key it is shown.
    const keyring = { keyOf: (n: string) => known[n], check: () => ({ ok: true }) } as unknown as Keyring;
    const nc = await connect({
      servers: brokerUrl,
      name: `rogue-${name}`,
      inboxPrefix: `_INBOX.${name}`,
      ...(o.brokerAuth === true ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(pair.seedText)) } : {}),
    });
    return new RogueNode(name, pair, nc, new Proofs({ name, pair }, keyring));
  }

  /** The identity file of a steward node started in `dir`. */
  static identityOf(dir: string): string {
    return path.join(dir, 'etc', 'identity.nk');
  }

  /** The headers proving `payload` on `subject` for `toNode` as this node. */
  seal(subject: string, toNode: string, payload: Uint8Array, headers: Record<string, string> = {}): Record<string, string> {
    return this.proofs.seal(subject, toNode, payload, headers);
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
    const h = natsHeaders();
    for (const [k, v] of Object.entries(prove ? this.seal(subject, toNode, payload, headers) : headers)) h.set(k, v);
    const res = await this.nc.request(subject, payload, { timeout: 10_000, headers: h });
    return ackText(res.string());
  }

  /** Publishes `msg` proven as this node, without waiting for an answer. */
  async publish(subject: string, msg: Message, wire: WireOptions = { serialization: 'cbor', compression: '' }): Promise<void> {
    const e = await encodeMessage(msg, wire);
    const h = natsHeaders();
    for (const [k, v] of Object.entries(this.seal(subject, msg.toNode, e.payload, e.headers))) h.set(k, v);
    this.nc.publish(subject, e.payload, { headers: h });
    await this.nc.flush();
  }

  get connection(): NatsConnection {
    return this.nc;
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

/** The ACK inside a proven answer (its body), or the answer itself. */
export function ackText(answer: string): string {
  try {
    const v = JSON.parse(answer) as { body?: unknown };
    return typeof v.body === 'string' ? v.body : answer;
  } catch {
    return answer;
  }
}
