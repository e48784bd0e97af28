/**
 * Sizes that several parts of steward must agree on.
 */

/** Room left in a reply for the message around a method's output (a reply repeats its request). */
export const REPLY_OVERHEAD = 16 * 1024;

/** Bytes of a message beyond its payload on the wire (subject, headers, proof). */
export const ENVELOPE_MARGIN = 1024;

/** Marks the line steward adds at the end of a streamed output (REQTailFile, REQCliCommandCont). */
export const END_PREFIX = '[steward] ';

/** The most output a method replies with, for a broker with this max payload. */
export function maxOutputBytes(maxPayload: number): number {
  return Math.max(1024, maxPayload - REPLY_OVERHEAD);
}
