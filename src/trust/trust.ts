import type { Proofs } from './proof.js';

/** What delivery, the receiver and the hello sender need of the proofs (or of their absence). */
export interface Trust {
  /** Messages are proven and checked (false with -trust=off). */
  readonly on: boolean;
  seal(subject: string, toNode: string, payload: Uint8Array, headers: Record<string, string>): Record<string, string>;
  /** `from`: the node the proof shows; undefined when trust is off (the message's own fromNode then stands). */
  open(
    subject: string,
    payload: Uint8Array,
    header: (name: string) => string,
  ): { ok: true; from: string | undefined; key?: string } | { ok: false; error: string; from?: string };
  /** `peerKey`: the key the message answered was proven by. */
  sealAck(ack: object, toNode: string, id: string, peerKey?: string): string;
  /** The ACK's JSON when it counts as the answer of `fromNode` about `id`; a string says why not. */
  openAck(bytes: Uint8Array, fromNode: string, id: string): string | { body: string };
}

/** Trust on: every message and ACK is proven (see proof.ts). */
export function trustOn(proofs: Proofs): Trust {
  return {
    on: true,
    seal: (subject, toNode, payload, headers) => proofs.seal(subject, toNode, payload, headers),
    open: (subject, payload, header) => proofs.open(subject, payload, header),
    sealAck: (ack, toNode, id, peerKey) => proofs.sealAck(ack, toNode, id, peerKey),
    openAck: (bytes, fromNode, id) => proofs.openAck(bytes, fromNode, id),
  };
}

/** -trust=off: no proofs (for a closed network, and to measure what the proofs cost). */
export const TRUST_OFF: Trust = {
  on: false,
  seal: (_subject, _toNode, _payload, headers) => headers,
  open: () => ({ ok: true, from: undefined }),
  sealAck: (ack) => JSON.stringify(ack),
  openAck: (bytes) => ({ body: Buffer.from(bytes).toString('utf8') }),
};
