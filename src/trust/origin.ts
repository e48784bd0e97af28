import { createHash } from 'node:crypto';
import type { Message } from '../message/message.js';
import type { Proofs } from './proof.js';

/**
 * A request carried on by other nodes keeps its origin's proof: a relayed message (the relay
 * node sends it on in its own name) and the chunks of a file copy (the source node sends them
 * to the destination for the node that asked). The origin signs what it asks with its identity
 * key; whoever acts on it at the end checks that signature and its own policy against the origin,
 * not against the node that carried it.
 */
export interface OriginRequest {
  /** The id of the request as the origin made it. */
  readonly id: string;
  readonly from: string;
  /** The node asked to act (the copy's source, the relay target). */
  readonly to: string;
  readonly method: string;
  readonly methodArgs: readonly string[];
  /** SHA-256 of the request's data, hex. */
  readonly dataSha256: string;
  readonly createdMs: number;
}

/** What travels in a message's `origin` field (JSON). */
interface OriginField {
  readonly request: OriginRequest;
  /** The origin's public key (U...): for a relayed message, as the relay node knows it. */
  readonly key: string;
  readonly sig: string;
}

function bytesOf(r: OriginRequest): Buffer {
  return Buffer.from(`steward-origin-v1\n${JSON.stringify([r.id, r.from, r.to, r.method, r.methodArgs, r.dataSha256, r.createdMs])}`);
}

/** The origin request of `msg` as its origin asks it (`to`, `method`: the node and method meant). */
export function originRequestOf(msg: Message, to: string, method: string): OriginRequest {
  return {
    id: msg.id,
    from: msg.fromNode,
    to,
    method,
    methodArgs: msg.methodArgs,
    dataSha256: createHash('sha256').update(msg.data.join('')).digest('hex'),
    createdMs: msg.createdMs,
  };
}

/** The `origin` field for a request this node makes. */
export function signOrigin(proofs: Proofs, request: OriginRequest): string {
  return JSON.stringify({ request, key: proofs.publicKey, sig: proofs.signBytes(bytesOf(request)) } satisfies OriginField);
}

/**
 * The origin request in `field`, when its signature is good and its key is the one `keyOf` binds
 * to its origin. An origin unknown here is taken with the key it signed with when the carrier
 * vouches for it (`attested`: a relay node), or when `bind` binds that key to its name (as a first
 * message of that node would: on first use, or not at all); a string says why not.
 */
export function verifyOrigin(
  proofs: Proofs,
  field: string | undefined,
  keyOf: (node: string) => string | undefined,
  attested: boolean,
  bind: (node: string, key: string) => boolean = () => false,
): OriginRequest | string {
  if (field === undefined || field === '') return 'it carries no proof of its origin';
  let o: OriginField;
  try {
    o = JSON.parse(field) as OriginField;
  } catch {
    return 'its origin proof is not JSON';
  }
  const r = o?.request;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.id !== 'string' ||
    typeof r.from !== 'string' ||
    typeof r.to !== 'string' ||
    typeof r.method !== 'string' ||
    !Array.isArray(r.methodArgs) ||
    !r.methodArgs.every((a) => typeof a === 'string') ||
    typeof r.dataSha256 !== 'string' ||
    typeof r.createdMs !== 'number' ||
    typeof o.key !== 'string' ||
    typeof o.sig !== 'string'
  ) {
    return 'its origin proof is malformed';
  }
  const bound = keyOf(r.from);
  if (bound !== undefined && bound !== o.key) return `its origin proof is made by a key that is not the one of ${r.from}`;
  if (!proofs.verifyBytes(o.key, bytesOf(r), o.sig)) return 'its origin proof does not match the request';
  if (bound === undefined && !attested && !bind(r.from, o.key)) return `its origin ${r.from} is not known here`;
  return r;
}
