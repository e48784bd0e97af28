/**
 * The ACK a receiver sends for one attempt of one message: it names the message id, so a late
 * ACK can never be taken for another message's.
 */
export interface Ack {
  id: string;
  /** ok: durably received now; duplicate: received before; rejected: will never be accepted. */
  status: 'ok' | 'duplicate' | 'rejected';
  error?: string;
}

/** Longest error text an ACK carries (the rest is cut): an ACK must fit the broker's max payload. */
const MAX_ACK_ERROR = 8 * 1024;

/** The ACK with its error cut to what an ACK carries. */
export function clipAck(ack: Ack): Ack {
  if (ack.error !== undefined && ack.error.length > MAX_ACK_ERROR) {
    return { ...ack, error: `${ack.error.slice(0, MAX_ACK_ERROR)}... (${ack.error.length} characters)` };
  }
  return ack;
}

export function encodeAck(ack: Ack): string {
  return JSON.stringify(clipAck(ack));
}

/** Parses an ACK; an answer that is not an ACK for `expectedId` is an error. */
export function parseAck(data: Uint8Array, expectedId: string): Ack {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    throw new Error('the answer is not an ACK');
  }
  const a = v as Partial<Ack>;
  if (typeof a !== 'object' || a === null || a.id !== expectedId) throw new Error('the ACK is for another message');
  if (a.status !== 'ok' && a.status !== 'duplicate' && a.status !== 'rejected') throw new Error('the ACK has no valid status');
  return { id: a.id, status: a.status, ...(typeof a.error === 'string' ? { error: a.error } : {}) };
}
