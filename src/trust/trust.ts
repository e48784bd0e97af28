import { parseAck, type Ack } from '../message/ack.js';
import type { Opened, Proofs, Sealed } from './proof.js';

/** What delivery, the receiver and the hello sender need of the proofs (or of their absence). */
export interface Trust {
  /** Messages are proven and checked (false with -trust=off). */
  readonly on: boolean;
  /** The headers proving a message, and what the ACK that delivers it must show. */
  seal(subject: string, toNode: string, payload: Uint8Array, headers: Record<string, string>): Sealed;
  /** `from`: the node the proof shows; undefined when trust is off (the message's own fromNode then stands). */
  open(
    subject: string,
    payload: Uint8Array,
    header: (name: string) => string,
  ): Opened | { ok: true; from: undefined; key?: undefined; ackProof?: undefined };
  /** `peerKey`: the key the message answered was proven by; `ackProof`: from open, for a delivering ACK. */
  sealAck(ack: Ack, toNode: string, id: string, peerKey?: string, ackProof?: string): string;
  /** The ACK when it counts as the answer of `fromNode` about `id` (`sealed`: what seal gave for it); a string says why not. */
  openAck(bytes: Uint8Array, fromNode: string, id: string, sealed?: Sealed): string | Ack;
}

/** Trust on: every message and ACK is proven (see proof.ts). */
export function trustOn(proofs: Proofs): Trust {
  return {
    on: true,
    seal: (subject, toNode, payload, headers) => proofs.seal(subject, toNode, payload, headers),
    open: (subject, payload, header) => proofs.open(subject, payload, header),
    sealAck: (ack, toNode, id, peerKey, ackProof) => proofs.sealAck(ack, toNode, id, peerKey, ackProof),
    openAck: (bytes, fromNode, id, sealed) => proofs.openAck(bytes, fromNode, id, sealed),
  };
}

/** -trust=off: no proofs (for a closed network, and to measure what the proofs cost). */
export const TRUST_OFF: Trust = {
  on: false,
  seal: (_subject, _toNode, _payload, headers) => ({ headers }),
  open: () => ({ ok: true, from: undefined }),
  sealAck: (ack) => JSON.stringify(ack),
  openAck: (bytes, _fromNode, id) => {
    try {
      return parseAck(bytes, id);
    } catch (err) {
      return (err as Error).message;
    }
  },
};
