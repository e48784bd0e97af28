import type { Logger } from 'pino';
import { parseAck, type Ack } from '../message/ack.js';
import { encodeMessage, type WireOptions } from '../message/codec.js';
import { isAckKind, subjectFor, type Kind, type Message } from '../message/message.js';
import type { Metrics } from '../metrics/metrics.js';
import type { AuditLog } from '../store/audit.js';
import type { Outbox, OutboxEntry } from '../store/outbox.js';
import { TransportError, type Transport } from '../transport/transport.js';

export interface DeliveryDeps {
  readonly nodeName: string;
  readonly outbox: Outbox;
  readonly audit: AuditLog;
  readonly transport: Transport;
  readonly wire: WireOptions;
  readonly logger: Logger;
  readonly maxInFlightPerNode: number;
  readonly maxInFlightTotal: number;
  /**
   * Messages held in memory per destination, waiting or in flight (default: maxInFlightPerNode),
   * and over all destinations (default: maxInFlightTotal); the rest waits in the outbox only and
   * is read back in order when there is room (reading back costs a parse and an encode).
   */
  readonly maxQueuedPerNode?: number;
  readonly maxQueuedTotal?: number;
  readonly metrics: Metrics;
  readonly kindOf: (method: string) => Kind;
  /** Delivers a message addressed to this node without going through the broker. */
  readonly deliverLocally: (msg: Message) => Promise<Ack>;
  /** Called once when a message is delivered (ACKed), given up, or cancelled. */
  readonly onFinished: (msg: Message, outcome: 'delivered' | 'failed' | 'cancelled', detail: string) => void;
  /** Called once when a message is given up (budget spent or rejected by the receiver). */
  readonly onFailed: (msg: Message, attempts: number, reason: 'max-retries' | 'rejected', detail: string) => void;
  readonly now?: () => number;
}

/** A message being delivered now. */
export interface Flight {
  readonly message: Message;
  attempts: number;
  /** When the current attempt ends (and the next one starts, if the budget allows). */
  nextTryMs: number;
  lastError: string;
  cancelled: boolean;
}

/** One destination node: its queue in memory (a bounded window onto the outbox) and its flights. */
class Destination {
  readonly waiting: OutboxEntry[] = [];
  inFlight = 0;
  /** Highest outbox seq loaded into memory. */
  lastSeq = 0;
  /** Rows may be in the outbox beyond lastSeq that are not in memory. */
  spilled = true;
  private wakers = new Set<() => void>();

  /** `id`: the publisher's id, stable for the life of this process. */
  constructor(
    readonly node: string,
    readonly id: number,
  ) {}

  /** Resolves after `ms`, or earlier when the node is heard from. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      this.wakers.add(done);
    });
  }

  wake(): void {
    for (const w of [...this.wakers]) w();
  }
}

/**
 * Delivers the outbox: a queue per destination node, in seq order, with a bounded number of
 * messages in flight per destination and overall. ACK kinds go out as NATS requests and wait
 * ACKTimeout per attempt, `retries` re-sends after the first; NACK kinds are published once.
 */
export class Delivery {
  private readonly dests = new Map<string, Destination>();
  private readonly flights = new Map<string, Flight>();
  private totalInFlight = 0;
  /** Entries in the destinations' waiting queues. */
  private totalWaiting = 0;
  private readonly maxQueuedPerNode: number;
  private readonly maxQueuedTotal: number;
  private nextDestId = 1;
  private stopped = false;
  private readonly connectedWaiters = new Set<() => void>();
  private readonly now: () => number;

  constructor(private readonly d: DeliveryDeps) {
    this.now = d.now ?? Date.now;
    this.maxQueuedPerNode = Math.max(d.maxQueuedPerNode ?? 0, d.maxInFlightPerNode);
    this.maxQueuedTotal = Math.max(d.maxQueuedTotal ?? 0, d.maxInFlightTotal);
    d.transport.onConnectionChange((up) => {
      if (!up) return;
      for (const w of [...this.connectedWaiters]) w();
      for (const dest of this.dests.values()) dest.wake();
    });
  }

  /** Loads what the outbox holds from before a restart. */
  start(): void {
    for (const node of this.d.outbox.destinations()) this.pump(this.dest(node));
  }

  /** Newly committed outbox entries (in seq order). */
  enqueue(entries: readonly OutboxEntry[]): void {
    const touched = new Set<Destination>();
    for (const e of entries) {
      const dest = this.dest(e.message.toNode);
      touched.add(dest);
      if (e.seq <= dest.lastSeq) continue; // already loaded from the outbox
      if (dest.spilled || dest.waiting.length >= this.maxQueuedPerNode || this.totalWaiting >= this.maxQueuedTotal) {
        dest.spilled = true; // stays in the outbox only; loaded when there is room
        continue;
      }
      dest.waiting.push(e);
      this.totalWaiting++;
      dest.lastSeq = e.seq;
    }
    for (const dest of touched) this.pump(dest);
  }

  /** Something was heard from `node`: retry its waiting messages now. */
  heardFrom(node: string): void {
    this.dests.get(node)?.wake();
  }

  /** The destinations with messages queued in memory or in flight now, with their publisher id. */
  publishers(): readonly { readonly node: string; readonly id: number }[] {
    const out: { node: string; id: number }[] = [];
    for (const d of this.dests.values()) if (d.inFlight > 0 || d.waiting.length > 0) out.push({ node: d.node, id: d.id });
    return out;
  }

  stop(): void {
    this.stopped = true;
    for (const dest of this.dests.values()) dest.wake();
    for (const w of [...this.connectedWaiters]) w();
  }

  private dest(node: string): Destination {
    let dest = this.dests.get(node);
    if (dest === undefined) {
      dest = new Destination(node, this.nextDestId++);
      this.dests.set(node, dest);
    }
    return dest;
  }

  private pump(dest: Destination): void {
    if (this.stopped) return;
    if (dest.waiting.length === 0 && dest.spilled) this.refill(dest);
    while (dest.waiting.length > 0 && dest.inFlight < this.d.maxInFlightPerNode && this.totalInFlight < this.d.maxInFlightTotal) {
      const entry = dest.waiting.shift() as OutboxEntry;
      this.totalWaiting--;
      dest.inFlight++;
      this.totalInFlight++;
      void this.fly(entry).finally(() => {
        dest.inFlight--;
        this.totalInFlight--;
        this.pump(dest);
        if (this.totalInFlight === this.d.maxInFlightTotal - 1)
          for (const other of this.dests.values()) if (other !== dest) this.pump(other);
      });
      if (dest.waiting.length === 0 && dest.spilled) this.refill(dest);
    }
  }

  private refill(dest: Destination): void {
    const rows = this.d.outbox.pending(dest.node, dest.lastSeq, this.d.maxInFlightPerNode);
    for (const r of rows) {
      dest.waiting.push(r);
      dest.lastSeq = r.seq;
    }
    this.totalWaiting += rows.length;
    dest.spilled = rows.length === this.d.maxInFlightPerNode;
  }

  private async fly(entry: OutboxEntry): Promise<void> {
    const msg = entry.message;
    const dest = this.dest(msg.toNode);
    const local = msg.toNode === this.d.nodeName;
    const kind = this.d.kindOf(msg.method);
    const subject = subjectFor(msg, kind);
    const debug = this.d.logger.isLevelEnabled('debug') ? this.d.logger.child({ id: msg.id, subject }) : undefined;
    const flight: Flight = { message: msg, attempts: entry.attempts, nextTryMs: this.now(), lastError: '', cancelled: false };
    this.flights.set(msg.id, flight);
    let encoded = entry.encoded;
    try {
      while (!this.stopped && !flight.cancelled) {
        if (!local && !this.d.transport.connected) {
          await this.untilConnected();
          continue;
        }
        flight.attempts++;
        const started = this.now();
        flight.nextTryMs = started + msg.ackTimeoutMs;
        try {
          let ack: Ack;
          if (local) ack = await this.d.deliverLocally(msg);
          else {
            encoded ??= await encodeMessage(msg, this.d.wire);
            if (!isAckKind(kind)) {
              const sent = this.d.transport.publish(subject, encoded.payload, encoded.headers);
              if (sent === 'disconnected') {
                flight.attempts--;
                continue;
              }
              if (sent === 'refused') {
                await this.finishFailed(
                  entry,
                  flight.attempts,
                  'rejected',
                  `the broker refused it (${encoded.payload.length} bytes; its max payload is ${this.d.transport.maxPayload})`,
                );
                return;
              }
              ack = { id: msg.id, status: 'ok' };
            } else {
              const sentAt = performance.now();
              const reply = await this.d.transport.request(subject, encoded.payload, encoded.headers, msg.ackTimeoutMs);
              ack = parseAck(reply, msg.id);
              this.d.metrics.ackRoundTrip((performance.now() - sentAt) / 1000);
            }
          }
          if (ack.status === 'rejected') {
            await this.finishFailed(entry, flight.attempts, 'rejected', ack.error ?? 'rejected by the receiver');
            return;
          }
          // An ACK means the node is there: its other waiting messages need not wait out their timers.
          if (flight.attempts > 1 || dest.inFlight > 1) dest.wake();
          this.d.audit.record('delivered', entry.json, flight.attempts);
          this.d.outbox.delivered(msg.id, flight.attempts, this.now()).catch(() => {});
          this.d.metrics.delivered(msg.toNode);
          this.d.onFinished(msg, 'delivered', '');
          debug?.debug({ attempts: flight.attempts }, 'delivered');
          return;
        } catch (err) {
          flight.lastError = (err as Error).message;
          if (err instanceof TransportError && err.code === 'disconnected') {
            flight.attempts--;
            continue;
          }
          debug?.debug({ attempts: flight.attempts, err: flight.lastError }, 'attempt failed');
          // "No responders" comes back at once: the attempt still lasts its ACK timeout, so an
          // offline node does not burn the budget in milliseconds. Hearing from it ends the wait.
          const left = msg.ackTimeoutMs - (this.now() - started);
          if (left > 0 && !flight.cancelled) await dest.wait(left);
        }
        if (this.stopped || flight.cancelled) break;
        if (msg.retries !== -1 && flight.attempts > msg.retries) {
          await this.finishFailed(entry, flight.attempts, 'max-retries', flight.lastError);
          return;
        }
        this.d.metrics.retried(msg.toNode);
        this.d.outbox.attempted(msg.id, flight.attempts, flight.lastError).catch(() => {});
      }
      if (flight.cancelled) this.finishCancelled(entry, flight.attempts);
    } finally {
      this.flights.delete(msg.id);
    }
  }

  /**
   * Stops delivering `id` (its outbox row is already marked cancelled by the caller). Returns
   * false when it is neither queued in memory nor in flight (then the outbox row decides).
   */
  cancel(id: string, toNode: string): boolean {
    const flight = this.flights.get(id);
    if (flight !== undefined) {
      flight.cancelled = true;
      this.dests.get(toNode)?.wake();
      return true;
    }
    const dest = this.dests.get(toNode);
    const i = dest?.waiting.findIndex((e) => e.message.id === id) ?? -1;
    if (dest === undefined || i < 0) return false;
    const [entry] = dest.waiting.splice(i, 1);
    this.totalWaiting--;
    if (entry !== undefined) this.finishCancelled(entry, entry.attempts);
    return true;
  }

  /** The message with this id, when it is being delivered now. */
  flight(id: string): Flight | undefined {
    return this.flights.get(id);
  }

  /** What is in flight now, per destination: for `steward queue`. */
  inFlight(): Flight[] {
    return [...this.flights.values()];
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

  private untilConnected(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped || this.d.transport.connected) return resolve();
      const done = (): void => {
        this.connectedWaiters.delete(done);
        resolve();
      };
      this.connectedWaiters.add(done);
    });
  }
}
