import type { Logger } from 'pino';
import { decodeMessage } from '../message/codec.js';
import type { Message } from '../message/message.js';
import type { FileWriter } from '../methods/files.js';
import type { MethodHandler } from '../methods/method.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Inbox } from '../store/inbox.js';
import type { Incoming, NatsTransport } from '../transport/nats.js';
import { encodeAck, type Ack } from './ack.js';
import type { Executor } from './executor.js';

export interface ReceiverDeps {
  readonly nodeName: string;
  readonly dataFolder: string;
  readonly inbox: Inbox;
  readonly files: FileWriter;
  readonly executor: Executor;
  readonly transport: NatsTransport;
  readonly logger: Logger;
  /** Methods with a subscriber on this node (the startSub switches applied). */
  readonly enabled: readonly MethodHandler[];
  readonly heardFrom: (node: string) => void;
  readonly reportError: (text: string) => void;
  /** A new message was durably received (not a re-sent copy). */
  readonly onReceived: (msg: Message) => void;
  /** For messages from other senders that carry no usable methodTimeout. */
  readonly defaultMethodTimeoutMs: number;
  readonly metrics: Metrics;
}

/**
 * Receives messages: one subscriber per enabled method on `<nodeName>.<method>.<kind>`. A
 * message id is committed to the inbox ledger before it is ACKed, then the method runs; a
 * re-sent id is ACKed again and not run again.
 */
export class Receiver {
  private readonly byName: Map<string, MethodHandler>;
  private subs: { unsubscribe(): void }[] = [];

  constructor(private readonly d: ReceiverDeps) {
    this.byName = new Map(d.enabled.map((m) => [m.name, m]));
  }

  subscribe(): void {
    for (const m of this.d.enabled) {
      const subject = `${this.d.nodeName}.${m.name}.${m.kind}`;
      this.subs.push(this.d.transport.subscribe(subject, (inc) => void this.onIncoming(inc)));
    }
    this.d.logger.info({ methods: this.d.enabled.map((m) => m.name) }, 'subscribed');
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
  }

  private async onIncoming(inc: Incoming): Promise<void> {
    let msg: Message;
    try {
      msg = await decodeMessage(inc.data, (name) => inc.header(name));
    } catch (err) {
      const text = `error: malformed message on ${inc.subject} (${inc.data.length} bytes): ${(err as Error).message}`;
      this.d.reportError(text);
      inc.respond(encodeAck({ id: '', status: 'rejected', error: text }));
      return;
    }
    let ack: Ack;
    try {
      ack = await this.accept(msg, inc.subject);
    } catch (err) {
      // The ledger could not commit: no ACK, so the sender tries again.
      this.d.logger.error({ err: (err as Error).message, id: msg.id }, 'cannot record a received message');
      return;
    }
    inc.respond(encodeAck(ack));
  }

  /** Takes responsibility for a message (from NATS or from this node itself). */
  async accept(msg: Message, subject?: string): Promise<Ack> {
    this.d.heardFrom(msg.fromNode);
    const reject = (error: string): Ack => {
      // A rejected error report is only logged: reporting it would loop.
      if (msg.method === 'REQErrorLog') this.d.logger.error({ id: msg.id, from: msg.fromNode }, error);
      else this.d.reportError(`error: rejected message ${clip(msg.id)} from ${msg.fromNode}: ${error}`);
      return { id: msg.id, status: 'rejected', error };
    };
    const handler = this.byName.get(msg.method);
    if (handler === undefined) {
      return reject(`method ${clip(msg.method)} has no subscriber on ${this.d.nodeName}`);
    }
    if (msg.toNode !== this.d.nodeName) return reject(`message is for ${msg.toNode}, not ${this.d.nodeName}`);
    if (subject !== undefined && !subject.startsWith(`${this.d.nodeName}.${msg.method}.`)) {
      return reject(`method ${msg.method} arrived on subject ${subject}`);
    }
    if (handler.ledger === false) {
      this.d.metrics.received(msg.method);
      this.d.executor.submit(msg, undefined);
      return { id: msg.id, status: 'ok' };
    }
    if (msg.methodTimeoutMs === 0 || msg.methodTimeoutMs < -1) msg.methodTimeoutMs = this.d.defaultMethodTimeoutMs;
    // The ledger tells a re-sent id inside the commit itself, so a copy arriving while the
    // first is being committed is answered "duplicate" only once that commit is durable.
    const { fresh, checkpoint } = await this.d.inbox.receive(
      msg,
      Date.now(),
      handler.plan === undefined
        ? undefined
        : () => handler.plan?.(msg, { dataFolder: this.d.dataFolder, nodeName: this.d.nodeName, files: this.d.files }),
      (cp) => handler.abandon?.(cp, this.d.files),
    );
    if (!fresh) {
      this.d.metrics.duplicate(msg.method);
      return { id: msg.id, status: 'duplicate' };
    }
    this.d.metrics.received(msg.method);
    this.d.onReceived(msg);
    this.d.executor.submit(msg, checkpoint);
    return { id: msg.id, status: 'ok' };
  }
}

/**
 * A field of a received message as quoted in an error: the sender may have made it as large as
 * the broker allows, and the error must still fit in an ACK and in an error report.
 */
function clip(s: string, max = 200): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length} characters)`;
}
