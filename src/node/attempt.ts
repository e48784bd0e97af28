import type { Ack } from '../message/ack.js';
import { encodeMessage, type Encoded, type WireOptions } from '../message/codec.js';
import { isAckKind, subjectFor, type Kind, type Message } from '../message/message.js';
import type { Metrics } from '../metrics/metrics.js';
import { TransportError, type Transport } from '../transport/transport.js';
import type { Trust } from '../trust/trust.js';
import type { Flight } from './destination.js';

/** What one attempt came to. */
export type Outcome =
  | { kind: 'delivered'; published?: true }
  | { kind: 'rejected'; error: string }
  | { kind: 'unanswered'; error: string }
  | { kind: 'disconnected' };

export interface AttemptDeps {
  readonly nodeName: string;
  readonly transport: Transport;
  readonly wire: WireOptions;
  readonly metrics: Metrics;
  readonly kindOf: (method: string) => Kind;
  readonly deliverLocally: (msg: Message) => Promise<Ack>;
  /** Proves each attempt for its destination, and checks that an ACK comes from it. */
  readonly trust: Trust;
}

/** Sends one attempt of `f` (encoded once, kept with it) and says what came of it. */
export async function sendAttempt(f: Flight, d: AttemptDeps): Promise<Outcome> {
  const msg = f.message;
  if (msg.toNode === d.nodeName) return outcomeOf(await d.deliverLocally(msg));
  const kind = d.kindOf(msg.method);
  const subject = subjectFor(msg, kind);
  const encoded: Encoded = f.entry.encoded ?? (f.entry.encoded = await encodeMessage(msg, d.wire));
  const sealed = d.trust.seal(subject, msg.toNode, encoded.payload, encoded.headers);
  if (!isAckKind(kind)) {
    const sent = d.transport.publish(subject, encoded.payload, sealed.headers);
    if (sent === 'sent') return { kind: 'delivered', published: true };
    if (sent === 'disconnected') return { kind: 'disconnected' };
    return {
      kind: 'rejected',
      error: `the broker refused it (${encoded.payload.length} bytes; its max payload is ${d.transport.maxPayload})`,
    };
  }
  const sentAt = performance.now();
  try {
    const reply = await d.transport.request(subject, encoded.payload, sealed.headers, msg.ackTimeoutMs);
    // An ACK counts only when the node the message went to proves it.
    const ack = d.trust.openAck(reply, msg.toNode, msg.id, sealed);
    if (typeof ack === 'string') return { kind: 'unanswered', error: ack };
    d.metrics.ackRoundTrip((performance.now() - sentAt) / 1000);
    return outcomeOf(ack);
  } catch (err) {
    if (err instanceof TransportError && err.code === 'disconnected') return { kind: 'disconnected' };
    return { kind: 'unanswered', error: (err as Error).message };
  }
}

function outcomeOf(ack: Ack): Outcome {
  return ack.status === 'rejected' ? { kind: 'rejected', error: ack.error ?? 'rejected by the receiver' } : { kind: 'delivered' };
}
