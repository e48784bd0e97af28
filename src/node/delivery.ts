import type { Logger } from 'pino';
import type { Message } from '../message/message.js';
import type { AuditLog } from '../store/audit.js';
import type { Outbox, OutboxEntry } from '../store/outbox.js';
import { sendAttempt, type AttemptDeps, type Outcome } from './attempt.js';
import { Destination, type Flight } from './destination.js';

export interface DeliveryDeps extends AttemptDeps {
  readonly outbox: Pick<Outbox, 'pending' | 'destinations' | 'delivered' | 'failed' | 'attempted'>;
  readonly audit: Pick<AuditLog, 'record'>;
  readonly logger: Logger;
  /** Attempts on the wire at once to one destination that answers (ringBufferSize). */
  readonly maxInFlightPerNode: number;
  /** Attempts on the wire at once over all destinations. */
  readonly maxInFlightTotal: number;
  /**
   * Messages held in memory per destination and over all destinations, beyond the windows; the
   * rest waits in the outbox only and is read back in order when there is room (reading back
   * costs a parse and an encode).
   */
  readonly maxQueuedPerNode: number;
  readonly maxQueuedTotal: number;
  /** Called once when a message is delivered (ACKed), given up, or cancelled. */
  readonly onFinished: (msg: Message, outcome: 'delivered' | 'failed' | 'cancelled', detail: string) => void;
  /** Called once when a message is given up (budget spent or rejected by the receiver). */
  readonly onFailed: (msg: Message, attempts: number, reason: 'max-retries' | 'rejected', detail: string) => void;
  /** Called when an attempt went unanswered and the message waits for its next one. */
  readonly onUnanswered?: (msg: Message, attempts: number, error: string) => void;
  readonly now?: () => number;
}

/**
 * Delivers the outbox: a queue per destination node, in seq order. Destinations with work share
 * the global window round-robin, one attempt each in turn, so no destination holds back the
 * others; one that does not answer gets a single probe per ACK timeout (see Destination). ACK
 * kinds go out as requests and wait ACKTimeout per attempt, `retries` re-sends after the first;
 * NACK kinds are published once.
 */
export class Delivery {
  private readonly dests = new Map<string, Destination>();
  /** Destinations that may send now, waiting for a global slot, in turn. */
  private ring: Destination[] = [];
  private totalSending = 0;
  /** Entries in the destinations' queues (not their windows). */
  private totalQueued = 0;
  private nextDestId = 1;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly d: DeliveryDeps) {
    this.now = d.now ?? Date.now;
    d.transport.onConnectionChange((up) => {
      if (!up) return;
      for (const dest of this.dests.values()) this.schedule(dest);
    });
  }

  /** Loads what the outbox holds from before a restart. */
  start(): void {
    for (const node of this.d.outbox.destinations()) this.fill(this.dest(node));
  }

  /** Newly committed outbox entries (in seq order). */
  enqueue(entries: readonly OutboxEntry[]): void {
    const touched = new Set<Destination>();
    for (const e of entries) {
      const dest = this.dest(e.message.toNode);
      touched.add(dest);
      if (e.seq <= dest.lastSeq) continue; // already loaded from the outbox
      if (dest.spilled || dest.queue.length >= this.d.maxQueuedPerNode || this.totalQueued >= this.d.maxQueuedTotal) {
        dest.spilled = true; // stays in the outbox only; loaded when there is room
        continue;
      }
      dest.queue.push(e);
      this.totalQueued++;
      dest.lastSeq = e.seq;
    }
    for (const dest of touched) this.fill(dest);
  }

  /** Something was heard from `node` (hello, reply, any message): it answers, its waiting messages go now. */
  heardFrom(node: string): void {
    const dest = this.dest(node);
    if (dest.answering) return;
    dest.answering = true;
    dest.wake(this.now(), true);
    this.schedule(dest);
  }

  /** The destinations with messages queued in memory or in flight now, with their publisher id. */
  publishers(): readonly { readonly node: string; readonly id: number }[] {
    const out: { node: string; id: number }[] = [];
    for (const d of this.dests.values()) if (d.window.size > 0 || d.queue.length > 0) out.push({ node: d.node, id: d.id });
    return out;
  }

  /** The message with this id, when it is in its destination's window now. */
  flight(id: string): Flight | undefined {
    for (const d of this.dests.values()) {
      const f = d.window.get(id);
      if (f !== undefined) return f;
    }
    return undefined;
  }

  /** What is in the windows now (being delivered): for `steward queue`. */
  inFlight(): Flight[] {
    return [...this.dests.values()].flatMap((d) => [...d.window.values()]);
  }

  /**
   * Stops delivering `id` (its outbox row is already marked cancelled by the caller). Returns
   * false when it is neither queued in memory nor in a window (then the outbox row decides). An
   * attempt on the wire ends first: should it be ACKed, the message was delivered after all.
   */
  cancel(id: string, toNode: string): boolean {
    const dest = this.dests.get(toNode);
    if (dest === undefined) return false;
    const f = dest.window.get(id);
    if (f !== undefined) {
      if (f.state === 'sending') f.cancelled = true;
      else this.cancelNow(dest, f);
      return true;
    }
    const i = dest.queue.findIndex((e) => e.message.id === id);
    if (i < 0) return false;
    const [entry] = dest.queue.splice(i, 1);
    this.totalQueued--;
    if (entry !== undefined) this.finishCancelled(entry, entry.attempts);
    return true;
  }

  stop(): void {
    this.stopped = true;
    for (const dest of this.dests.values()) if (dest.timer !== undefined) clearTimeout(dest.timer);
    this.ring = [];
  }

  private dest(node: string): Destination {
    let dest = this.dests.get(node);
    if (dest === undefined) {
      dest = new Destination(node, this.nextDestId++);
      // Messages to this node itself never wait for an answer from the broker.
      dest.answering = node === this.d.nodeName;
      this.dests.set(node, dest);
    }
    return dest;
  }

  /** Takes messages from the queue (and the outbox) into the window, then lets them go. */
  private fill(dest: Destination): void {
    if (this.stopped) return;
    const now = this.now();
    while (dest.window.size < this.d.maxInFlightPerNode) {
      if (dest.queue.length === 0 && dest.spilled) this.refill(dest);
      const entry = dest.queue.shift();
      if (entry === undefined) break;
      this.totalQueued--;
      dest.add({ message: entry.message, entry, attempts: entry.attempts, nextTryMs: now, lastError: '', state: 'due', cancelled: false });
    }
    this.schedule(dest);
  }

  private refill(dest: Destination): void {
    const limit = Math.max(1, Math.min(this.d.maxInFlightPerNode, this.d.maxQueuedPerNode));
    const rows = this.d.outbox.pending(dest.node, dest.lastSeq, limit);
    for (const r of rows) {
      dest.queue.push(r);
      dest.lastSeq = r.seq;
    }
    this.totalQueued += rows.length;
    dest.spilled = rows.length === limit;
  }

  /** Puts the destination in the ring when it has something to send and room for it, else sets its timer. */
  private schedule(dest: Destination): void {
    if (this.stopped) return;
    const local = dest.node === this.d.nodeName;
    if (dest.dueCount > 0 && (local || this.d.transport.connected) && dest.capacity(this.d.maxInFlightPerNode, this.now()) > 0) {
      if (!dest.inRing) {
        dest.inRing = true;
        this.ring.push(dest);
      }
      this.pump();
    }
    this.arm(dest);
  }

  /** Gives free global slots to the destinations in the ring, one attempt each in turn. */
  private pump(): void {
    while (this.totalSending < this.d.maxInFlightTotal && this.ring.length > 0 && !this.stopped) {
      const dest = this.ring.shift() as Destination;
      dest.inRing = false;
      const local = dest.node === this.d.nodeName;
      if (!(local || this.d.transport.connected) || dest.capacity(this.d.maxInFlightPerNode, this.now()) <= 0) continue;
      const f = dest.takeDue();
      if (f === undefined) continue;
      void this.attempt(dest, f);
      if (dest.dueCount > 0 && dest.capacity(this.d.maxInFlightPerNode, this.now()) > 0) {
        dest.inRing = true;
        this.ring.push(dest);
      }
    }
  }

  /** One timer per destination, for its earliest waiting flight or its next probe. */
  private arm(dest: Destination): void {
    const now = this.now();
    const at = this.stopped ? undefined : dest.nextWakeMs(now);
    if (at === undefined) {
      if (dest.timer !== undefined) clearTimeout(dest.timer);
      dest.timer = undefined;
      return;
    }
    if (dest.timer !== undefined && dest.timerAtMs === at) return;
    if (dest.timer !== undefined) clearTimeout(dest.timer);
    dest.timerAtMs = at;
    dest.timer = setTimeout(
      () => {
        dest.timer = undefined;
        dest.wake(this.now());
        this.schedule(dest);
      },
      Math.max(0, at - now),
    );
  }

  /** One attempt of `f` (taken from its destination's due flights). */
  private async attempt(dest: Destination, f: Flight): Promise<void> {
    this.totalSending++;
    const started = this.now();
    f.attempts++;
    let outcome: Outcome;
    try {
      outcome = await sendAttempt(f, this.d);
    } catch (err) {
      outcome = { kind: 'unanswered', error: (err as Error).message };
    }
    this.totalSending--;
    if (this.stopped) return;
    await this.settle(dest, f, outcome, started);
    this.schedule(dest);
    this.pump();
  }

  /** What happens after an attempt: delivered, given up, or waiting for the next one. */
  private async settle(dest: Destination, f: Flight, outcome: Outcome, started: number): Promise<void> {
    const msg = f.message;
    const debug = this.d.logger.isLevelEnabled('debug') ? this.d.logger.child({ id: msg.id, toNode: msg.toNode }) : undefined;
    if (outcome.kind === 'disconnected') {
      // Our side of the link: not the node's fault, and not an attempt. It goes again once connected.
      f.attempts--;
      if (f.cancelled) return this.cancelNow(dest, f);
      dest.returnDue(f);
      return;
    }
    if (outcome.kind === 'delivered' || outcome.kind === 'rejected') {
      // A fire-and-forget publish says nothing of the node; an ACK or a refusal does.
      if (!(outcome.kind === 'delivered' && outcome.published)) this.answered(dest);
      dest.remove(f);
      if (outcome.kind === 'delivered') {
        this.d.audit.record('delivered', f.entry.json, f.attempts);
        this.d.outbox.delivered(msg.id, f.attempts, this.now()).catch(() => {});
        this.d.metrics.delivered(msg.toNode);
        this.d.onFinished(msg, 'delivered', '');
        debug?.debug({ attempts: f.attempts }, 'delivered');
      } else await this.finishFailed(f.entry, f.attempts, 'rejected', outcome.error);
      this.fill(dest);
      return;
    }
    // Unanswered: the node is not answering; the next probe (and this message's next attempt)
    // waits out the attempt's ACK timeout, so an offline node does not burn budgets in milliseconds.
    debug?.debug({ attempts: f.attempts, err: outcome.error }, 'attempt failed');
    const nextMs = started + msg.ackTimeoutMs;
    if (dest.node !== this.d.nodeName) {
      dest.answering = false;
      dest.nextProbeMs = Math.max(this.now(), nextMs);
    }
    if (f.cancelled) return this.cancelNow(dest, f);
    await this.failedAttempt(dest, f, outcome.error, nextMs);
    // The flights that were due behind this probe were not sent: the node did not answer. Each
    // counts that as its own failed attempt, so budgets run out as if each had been sent.
    if (dest.answering) return;
    const now = this.now();
    const behind = dest.takeAllDue();
    await Promise.all(
      behind.map((b) => {
        b.attempts++;
        return this.failedAttempt(
          dest,
          b,
          `not sent: ${dest.node} did not answer ${msg.id} (${outcome.error})`,
          now + b.message.ackTimeoutMs,
        );
      }),
    );
    this.fill(dest);
  }

  /** Records a failed attempt; gives the message up when its budget is spent, else it waits until `nextMs`. */
  private async failedAttempt(dest: Destination, f: Flight, error: string, nextMs: number): Promise<void> {
    f.lastError = error;
    const msg = f.message;
    if (msg.retries !== -1 && f.attempts > msg.retries) {
      dest.remove(f);
      await this.finishFailed(f.entry, f.attempts, 'max-retries', error);
      return;
    }
    this.d.metrics.retried(msg.toNode);
    this.d.outbox.attempted(msg.id, f.attempts, error).catch(() => {});
    dest.wait(f, nextMs);
    this.d.onUnanswered?.(msg, f.attempts, error);
  }

  /** The node answered: its full window, and every waiting message goes now. */
  private answered(dest: Destination): void {
    if (dest.answering) return;
    dest.answering = true;
    dest.wake(this.now(), true);
  }

  private cancelNow(dest: Destination, f: Flight): void {
    dest.remove(f);
    this.finishCancelled(f.entry, f.attempts);
    this.fill(dest);
  }

  private finishCancelled(entry: OutboxEntry, attempts: number): void {
    this.d.audit.record('cancelled', entry.json, attempts, 'cancelled by an operator');
    this.d.onFinished(entry.message, 'cancelled', 'cancelled by an operator');
  }

  private async finishFailed(entry: OutboxEntry, attempts: number, reason: 'max-retries' | 'rejected', detail: string): Promise<void> {
    const msg = entry.message;
    this.d.audit.record('failed', entry.json, attempts, `${reason}: ${detail}`);
    await this.d.outbox.failed(msg.id, attempts, `${reason}: ${detail}`, this.now());
    this.d.metrics.failed(msg.toNode, reason);
    this.d.onFailed(msg, attempts, reason, detail);
    this.d.onFinished(msg, 'failed', reason === 'max-retries' ? `max retries reached after ${attempts} attempts: ${detail}` : detail);
  }
}
