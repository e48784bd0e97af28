import { monotonicFactory } from 'ulidx';

const ulid = monotonicFactory();

/** A unique, time-ordered message id (ULID: 26 characters, sortable by creation time). */
export function newId(now: number = Date.now()): string {
  return ulid(now);
}

/** The id of reply number `seq` to the message `requestId`: derived, so a re-run cannot duplicate it. */
export function replyId(requestId: string, seq = 0): string {
  return `${requestId}-r${seq}`;
}
