import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulidx';

/**
 * Random numbers for ids, from a pool filled 4 KiB at a time. ulidx's own source asks the
 * system for one byte per character (16 calls into OpenSSL for each new millisecond); a byte
 * divided by 256 picks one of the 32 characters exactly uniformly.
 */
const pool = Buffer.alloc(4096);
let next = pool.length;
function pooledRandom(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return (pool[next++] as number) / 256;
}

const ulid = monotonicFactory(pooledRandom);

/** A unique, time-ordered message id (ULID: 26 characters, sortable by creation time). */
export function newId(now: number = Date.now()): string {
  return ulid(now);
}

/**
 * What a message id may look like on the wire: every id steward makes is a ULID, or one with
 * suffixes (`-r0`, `-c12`, `-end`, `-relay`, ...). A bound, because a receiver quotes the id back
 * in its ACK and in error lines, which must fit the broker's max payload.
 */
export const MESSAGE_ID = /^[A-Za-z0-9_-]{1,256}$/;

/** The id of reply number `seq` to the message `requestId`: derived, so a re-run cannot duplicate it. */
export function replyId(requestId: string, seq = 0): string {
  return `${requestId}-r${seq}`;
}

/**
 * The id of part `part` of the work a request started on another node (a file copy's chunks and
 * its end, the hops of a relayed message): derived, so a redo of the request after a restart sends the same ids again.
 */
export function partId(requestId: string, part: string): string {
  return `${requestId}-${part}`;
}

const PART = /^(?:end|abort|c\d+|relay|fwd)$/;

/** The request a part id was derived from (the id itself when it is not a part id). */
export function requestIdOfPart(id: string): string {
  let base = id;
  for (let dash = base.lastIndexOf('-'); dash > 0 && PART.test(base.slice(dash + 1)); dash = base.lastIndexOf('-')) {
    base = base.slice(0, dash);
  }
  return base;
}
