import type { AcceptInput } from '../inputs/accept.js';
import type { ControlChannel } from '../inputs/stream.js';
import { replyId } from '../message/id.js';
import type { NodeSeen } from '../store/nodes.js';
import type { OutboxRecord } from '../store/outbox.js';
import type { InboxRecord } from '../store/inbox.js';
import type { Flight } from './destination.js';
import type { WatchEvent } from './watch.js';
import { jobOfMessage, type JobEvent } from '../fleet/job-events.js';
import { matches } from '../fleet/selector.js';
import { labelsError } from '../message/labels.js';

export class ControlError extends Error {
  override readonly name = 'ControlError';
}

/** What the operator requests read and change on the node. */
export interface ControlDeps {
  readonly accept: AcceptInput;
  readonly watch: (ids: readonly string[], listener: (ev: WatchEvent) => void) => () => void;
  /** This node's hello interval: a node unheard for 2.5 intervals is shown offline. */
  readonly helloIntervalMs: number;
  readonly nodes: () => NodeSeen[];
  readonly queue: () => { summary: { node: string; pending: number; oldestMs: number }[]; inFlight: Flight[] };
  /** A message sent from here (outbox), received here (inbox), being delivered now. */
  readonly sent: (id: string) => OutboxRecord | undefined;
  readonly received: (id: string) => InboxRecord | undefined;
  readonly flight: (id: string) => Flight | undefined;
  readonly pendingIdsTo: (node: string) => string[];
  readonly cancel: (ids: readonly string[]) => Promise<{ id: string; cancelled: boolean; state: string }[]>;
  /** Requests served by other rooms (keys, jobs). */
  readonly more?: MoreHandlers;
  /** Follows the events of jobs (`steward send` to many nodes). */
  readonly watchJobs?: (jobs: readonly string[], listener: (ev: JobEvent) => void) => () => void;
}

/**
 * Requests served by other rooms: each answers with one object, or writes to the channel itself
 * and answers undefined (a stream; see Control.follow for its end when the node stops).
 */
export type MoreHandlers = Readonly<Record<string, (req: Record<string, unknown>, ch: ControlChannel) => Promise<object | undefined>>>;

/**
 * The operator requests served on the node's socket (`steward send|nodes|queue|status|cancel`).
 * A request is one JSON object with a `control` field; see docs/operator-protocol.md.
 */
export class Control {
  /** Channels following the messages they sent (`steward send`), until they close. */
  private readonly watching = new Set<ControlChannel>();

  constructor(private readonly d: ControlDeps) {}

  /** Tells every watcher the node is going away (a last `stopped` event) and ends its stream. */
  stop(reason: string): void {
    for (const ch of [...this.watching]) {
      ch.write({ event: 'stopped', reason });
      ch.end();
    }
    this.watching.clear();
  }

  async handle(req: Record<string, unknown>, ch: ControlChannel): Promise<void> {
    switch (req.control) {
      case 'send':
        return this.send(req, ch);
      case 'nodes':
        return this.once(ch, this.nodes(req));
      case 'queue':
        return this.once(ch, this.queue());
      case 'status':
        return this.once(ch, this.status(str(req.id, 'id')));
      case 'cancel':
        return this.once(ch, { results: await this.cancel(req) });
      default: {
        const more = typeof req.control === 'string' ? this.d.more?.[req.control] : undefined;
        if (more !== undefined) {
          const answer = await more(req, ch);
          return answer === undefined ? undefined : this.once(ch, answer);
        }
        const known = ['send', 'nodes', 'queue', 'status', 'cancel', ...Object.keys(this.d.more ?? {})];
        throw new ControlError(`unknown control request ${JSON.stringify(req.control)}: use ${known.join(', ')}`);
      }
    }
  }

  /** A channel that streams until it closes: told `stopped` when the node stops. */
  follow(ch: ControlChannel): void {
    this.watching.add(ch);
    ch.onClose(() => this.watching.delete(ch));
  }

  private once(ch: ControlChannel, answer: object): void {
    ch.write(answer);
    ch.end();
  }

  /**
   * Accepts messages like the socket does, one line per message; with `watch`, then streams
   * what happens to the accepted ones until the client closes the connection.
   */
  private async send(req: Record<string, unknown>, ch: ControlChannel): Promise<void> {
    // `input`: message text exactly as the socket takes it (JSON or YAML); `messages`: a value.
    const input = typeof req.input === 'string' ? Buffer.from(req.input) : Buffer.from(JSON.stringify(req.messages ?? null));
    const watch = req.watch === true;
    const stops: (() => void)[] = [];
    // Events that come before the accepted lines are written wait, so the client reads the
    // ids first.
    let held: (WatchEvent | JobEvent)[] | undefined = [];
    const write = (ev: WatchEvent | JobEvent): void => void (held === undefined ? ch.write(ev) : held.push(ev));
    const results = await this.d.accept(input, (ids) => {
      // Registered before the messages can be delivered, so no event is missed.
      if (!watch) return;
      stops.push(this.d.watch(ids, write));
      const jobs = [...new Set(ids.flatMap((id) => jobOfMessage(id) ?? []))];
      if (jobs.length > 0 && this.d.watchJobs !== undefined) stops.push(this.d.watchJobs(jobs, write));
    });
    for (const r of results) ch.write(r);
    if (!watch || stops.length === 0) {
      ch.end();
      return;
    }
    for (const ev of held) ch.write(ev);
    held = undefined;
    this.watching.add(ch);
    ch.onClose(() => {
      this.watching.delete(ch);
      for (const stop of stops) stop();
    });
  }

  /** The nodes heard from, with their labels; `where` keeps those with all of its labels. */
  private nodes(req: Record<string, unknown>): object {
    const now = Date.now();
    const limit = this.d.helloIntervalMs > 0 ? this.d.helloIntervalMs * 2.5 : 75_000;
    const where = req.where ?? {};
    if (where === null || typeof where !== 'object' || Array.isArray(where)) throw new ControlError('"where" is {label: value}');
    const bad = labelsError(where as Record<string, unknown>);
    if (bad !== undefined) throw new ControlError(`where: ${bad}`);
    return {
      now,
      helloIntervalMs: this.d.helloIntervalMs,
      nodes: this.d
        .nodes()
        .filter((n) => matches(n.labels, where as Record<string, string>))
        .map((n) => ({ node: n.name, lastSeenMs: n.lastSeenMs, online: now - n.lastSeenMs <= limit, labels: n.labels })),
    };
  }

  private queue(): object {
    const { summary, inFlight: flights } = this.d.queue();
    return {
      now: Date.now(),
      destinations: summary.map((d) => ({
        ...d,
        inFlight: flights
          .filter((f) => f.message.toNode === d.node)
          .map((f) => ({
            id: f.message.id,
            method: f.message.method,
            attempts: f.attempts,
            retries: f.message.retries,
            nextTryMs: f.nextTryMs,
            lastError: f.lastError,
          })),
      })),
    };
  }

  private status(id: string): object {
    const rec = this.d.sent(id);
    const received = this.d.received(id);
    if (rec === undefined && received === undefined) {
      throw new ControlError(`no message ${id} on this node (finished messages are kept for 24 hours)`);
    }
    const reply = this.d.received(replyId(id));
    const flight = this.d.flight(id);
    return {
      id,
      sent:
        rec === undefined
          ? null
          : {
              toNode: rec.toNode,
              method: rec.method,
              methodArgs: rec.message.methodArgs,
              state: rec.state,
              attempts: flight?.attempts ?? rec.attempts,
              acceptedMs: rec.createdMs,
              finishedMs: rec.finishedMs,
              lastError: flight?.lastError ?? rec.lastError,
              nextTryMs: flight?.nextTryMs ?? null,
            },
      reply: reply === undefined ? null : { node: reply.fromNode, method: reply.method, receivedMs: reply.receivedMs, state: reply.state },
      received:
        received === undefined
          ? null
          : { fromNode: received.fromNode, method: received.method, receivedMs: received.receivedMs, state: received.state },
    };
  }

  private async cancel(req: Record<string, unknown>): Promise<object[]> {
    if (typeof req.to === 'string') return this.d.cancel(this.d.pendingIdsTo(req.to));
    if (Array.isArray(req.ids) && req.ids.every((x) => typeof x === 'string')) return this.d.cancel(req.ids);
    throw new ControlError('cancel needs "ids": [...] or "to": "<node>"');
  }
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string' || v === '') throw new ControlError(`the request needs "${name}"`);
  return v;
}
