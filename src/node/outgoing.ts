import type { Encoded } from '../message/codec.js';
import type { Message } from '../message/message.js';
import type { SendOutcome } from '../methods/method.js';
import type { AuditLog } from '../store/audit.js';
import type { Outbox, OutboxEntry } from '../store/outbox.js';
import type { Delivery } from './delivery.js';
import type { Watchers } from './watch.js';

export interface OutgoingDeps {
  readonly outbox: Outbox;
  readonly delivery: Pick<Delivery, 'enqueue' | 'cancel' | 'flight'>;
  readonly audit: AuditLog;
  readonly watchers: Watchers;
  readonly centralNodeName: string;
  /** Sends an info or error line to `to` (the central node). */
  readonly report: (text: string, to: string, relatedId: string) => void;
}

/**
 * What a node sends: messages committed to the outbox and handed to delivery, waits on their
 * outcome (for methods that send, such as file copies), and cancellation by an operator.
 */
export class Outgoing {
  constructor(private readonly d: OutgoingDeps) {}

  /**
   * Commits messages to the outbox and hands them to delivery (with their wire form when known).
   * Resolves once they are durable, with the ids that were already in the outbox (not added or
   * sent again).
   *
   * Delivery starts as soon as the commit is made, while its sync runs: sending waits for no
   * disk. What the sender tells its client ("accepted", or the method's end) still waits for the
   * sync. Only a crash of the machine within that sync can make a message that was sent vanish
   * from the outbox, with its client never told it was accepted; as when the machine stops
   * between the sync and the answer, the client then does not know whether it went.
   */
  async submit(messages: Message[], encoded?: Encoded[]): Promise<string[]> {
    let handedOn = false;
    let added: (OutboxEntry | undefined)[];
    try {
      added = await this.d.outbox.add(messages, (committed) => {
        handedOn = true;
        const entries: OutboxEntry[] = [];
        committed.forEach((entry, i) => {
          const wire = encoded?.[i];
          if (entry !== undefined) entries.push(wire === undefined ? entry : { ...entry, encoded: wire });
        });
        this.d.delivery.enqueue(entries);
      });
    } catch (err) {
      if (!handedOn) throw err;
      throw new Error(`${(err as Error).message} (it was committed and its delivery had begun: it may still be delivered)`, { cause: err });
    }
    return added.flatMap((entry, i) => (entry === undefined ? [(messages[i] as Message).id] : []));
  }

  /**
   * Submits messages and waits for the end of each one's delivery (see NodeServices.send), or
   * until `signal` is aborted (the method's timeout, or the node stops): the messages not
   * finished by then count as failed for the caller, and their delivery goes on.
   */
  async sendAndWait(messages: Message[], signal: AbortSignal): Promise<SendOutcome[]> {
    const outcomes = new Map<string, SendOutcome>();
    let wake: (() => void) | undefined;
    const stopWatching = this.d.watchers.watch(
      messages.map((m) => m.id),
      (ev) => {
        if (ev.event === 'delivered') outcomes.set(ev.id, { id: ev.id, outcome: 'delivered', detail: '' });
        else if (ev.event === 'failed') outcomes.set(ev.id, { id: ev.id, outcome: 'failed', detail: ev.error });
        else if (ev.event === 'cancelled') outcomes.set(ev.id, { id: ev.id, outcome: 'cancelled', detail: 'cancelled by an operator' });
        else return;
        if (outcomes.size === messages.length) wake?.();
      },
    );
    const stopping = signal;
    const onStop = (): void => wake?.();
    try {
      // Ids already in the outbox (a redo after a restart): their delivery is finished or under way.
      for (const id of await this.submit(messages)) {
        const rec = this.d.outbox.get(id);
        if (rec === undefined || rec.state === 'pending' || outcomes.has(id)) continue;
        outcomes.set(id, { id, outcome: rec.state, detail: rec.lastError ?? '' });
      }
      if (outcomes.size < messages.length && !stopping.aborted) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          stopping.addEventListener('abort', onStop, { once: true });
        });
      }
    } finally {
      stopping.removeEventListener('abort', onStop);
      stopWatching();
    }
    const why = String((signal.reason as Error | undefined)?.message ?? 'stopped waiting');
    return messages.map((m) => outcomes.get(m.id) ?? { id: m.id, outcome: 'failed', detail: `no outcome yet (${why})` });
  }

  /**
   * Cancels pending messages (by id). Each cancelled message is finished like a failure: an
   * audit line, its waiters told, an info line at central.
   */
  async cancel(ids: readonly string[]): Promise<{ id: string; cancelled: boolean; state: string }[]> {
    const out: { id: string; cancelled: boolean; state: string }[] = [];
    for (const id of ids) {
      const rec = this.d.outbox.get(id);
      if (rec === undefined) {
        out.push({ id, cancelled: false, state: 'unknown' });
        continue;
      }
      const attempts = this.d.delivery.flight(id)?.attempts ?? rec.attempts;
      if (!(await this.d.outbox.cancel(id, 'cancelled by an operator', Date.now()))) {
        out.push({ id, cancelled: false, state: this.d.outbox.get(id)?.state ?? rec.state });
        continue;
      }
      if (!this.d.delivery.cancel(id, rec.toNode)) {
        this.d.audit.record('cancelled', JSON.stringify(rec.message), attempts, 'cancelled by an operator');
        this.d.watchers.emit({ event: 'cancelled', id, toNode: rec.toNode });
      }
      this.d.report(
        `info: toNode: ${rec.toNode}, fromNode: ${rec.message.fromNode}, method: ${rec.method}, id: ${id}, attempts: ${attempts}: cancelled by an operator before it was delivered`,
        this.d.centralNodeName,
        id,
      );
      out.push({ id, cancelled: true, state: 'cancelled' });
    }
    return out;
  }
}
