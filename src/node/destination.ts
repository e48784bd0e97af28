import type { Message } from '../message/message.js';
import type { OutboxEntry } from '../store/outbox.js';

/** A message in its destination's window: being sent, waiting for its next attempt, or due. */
export interface Flight {
  readonly message: Message;
  readonly entry: OutboxEntry;
  attempts: number;
  /** When the current (or next) attempt may start. */
  nextTryMs: number;
  lastError: string;
  /** due: ready for an attempt; sending: an attempt is on the wire; waiting: for its next try. */
  state: 'due' | 'sending' | 'waiting';
  /** Cancelled while an attempt was on the wire: finished as cancelled when it ends, unless it was delivered. */
  cancelled: boolean;
}

/**
 * One destination node as delivery sees it: a bounded queue in memory (a window onto the
 * outbox, in seq order), the window of flights taken from it, and whether the node answers.
 *
 * A node that answers gets up to `maxInFlight` attempts on the wire at once. A node that does
 * not (its last attempt timed out or found no responder, or it was never heard from since this
 * process started) gets one probe at a time, at most one per ACK timeout: a dead node costs one
 * request per interval and never holds the global window that live nodes need. The flights that
 * wait behind the probe share its failed attempts, so a message with a finite budget is given up
 * after about (retries + 1) x ACKTimeout, as when each was sent on its own.
 */
export class Destination {
  /** Loaded from the outbox, not in the window yet. */
  readonly queue: OutboxEntry[] = [];
  /** Taken from the queue: at most maxInFlight. */
  readonly window = new Map<string, Flight>();
  /** Flights in the window ready for an attempt, oldest first. */
  private due: Flight[] = [];
  /** Attempts on the wire now (flights in state sending). */
  sending = 0;

  get dueCount(): number {
    return this.due.length;
  }
  /** It answered (ACK, reply, hello) since its last unanswered attempt. */
  answering = false;
  /** Not answering: no probe before this time. */
  nextProbeMs = 0;
  /** Highest outbox seq loaded into memory. */
  lastSeq = 0;
  /** Rows may be in the outbox beyond lastSeq that are not in memory. */
  spilled = true;
  /** Waiting in the scheduler's ring for a free slot. */
  inRing = false;
  /** Wakes the flights whose next attempt has come (one timer per destination). */
  timer: NodeJS.Timeout | undefined;
  timerAtMs = 0;

  /** `id`: the publisher's id, stable for the life of this process. */
  constructor(
    readonly node: string,
    readonly id: number,
  ) {}

  /** Flights in the window waiting for their next try. */
  private waiting = 0;

  /** Attempts this destination may have on the wire now. */
  capacity(maxInFlight: number, now: number): number {
    if (this.answering) return maxInFlight - this.sending;
    return this.sending === 0 && now >= this.nextProbeMs ? 1 : 0;
  }

  /** Adds a flight to the window, due at once. */
  add(f: Flight): void {
    this.window.set(f.message.id, f);
    f.state = 'due';
    this.due.push(f);
  }

  /** The next due flight, now on the wire. */
  takeDue(): Flight | undefined {
    const f = this.due.shift();
    if (f === undefined) return undefined;
    f.state = 'sending';
    this.sending++;
    return f;
  }

  /** An attempt came back: the flight is due again (it was not one: the link was down). */
  returnDue(f: Flight): void {
    this.ended(f);
    f.state = 'due';
    this.due.unshift(f);
  }

  /** An attempt came back unanswered: the flight waits until `atMs`. */
  wait(f: Flight, atMs: number): void {
    this.ended(f);
    f.state = 'waiting';
    f.nextTryMs = atMs;
    this.waiting++;
  }

  /** The flights that were due, no longer due (they wait or leave). */
  takeAllDue(): Flight[] {
    const all = this.due;
    this.due = [];
    for (const f of all) f.state = 'sending'; // in hand; wait() or remove() places them
    this.sending += all.length;
    return all;
  }

  /** Takes a flight out of the window, whatever its state. */
  remove(f: Flight): void {
    if (this.window.get(f.message.id) !== f) return;
    this.window.delete(f.message.id);
    this.ended(f);
  }

  private ended(f: Flight): void {
    if (f.state === 'sending') this.sending--;
    else if (f.state === 'waiting') this.waiting--;
    else this.due = this.due.filter((x) => x !== f);
  }

  /** Moves every waiting flight whose time has come (all of them with `all`) to due, in outbox order. */
  wake(now: number, all = false): void {
    if (this.waiting === 0) return;
    let woke = false;
    for (const f of this.window.values()) {
      if (f.state !== 'waiting' || (!all && f.nextTryMs > now)) continue;
      f.state = 'due';
      this.waiting--;
      this.due.push(f);
      woke = true;
    }
    if (woke) this.due.sort((a, b) => a.entry.seq - b.entry.seq);
  }

  /** The earliest time after `now` something here may go next (a waiting flight, or the next probe). */
  nextWakeMs(now: number): number | undefined {
    let at: number | undefined;
    if (this.waiting > 0)
      for (const f of this.window.values()) if (f.state === 'waiting') at = at === undefined ? f.nextTryMs : Math.min(at, f.nextTryMs);
    if (!this.answering && this.due.length > 0 && this.sending === 0 && this.nextProbeMs > now) {
      at = at === undefined ? this.nextProbeMs : Math.min(at, this.nextProbeMs);
    }
    return at;
  }
}
