import type { Logger } from 'pino';
import { decodeMessage } from '../message/codec.js';
import { ENVELOPE_MARGIN } from '../message/limits.js';
import { clipAck, type Ack } from '../message/ack.js';
import { RELAY_METHOD, subjectFor, type Message } from '../message/message.js';
import type { MethodHandler, ProcessInfo } from '../methods/method.js';
import type { Metrics } from '../metrics/metrics.js';
import type { FileWriter } from '../store/files.js';
import type { Inbox } from '../store/inbox.js';
import type { Incoming, Subscription, Transport } from '../transport/transport.js';
import { claimedSender } from '../trust/proof.js';
import type { Trust } from '../trust/trust.js';
import type { Admission } from './admission.js';
import type { Executor } from './executor.js';

export interface ReceiverDeps {
  readonly nodeName: string;
  readonly dataFolder: string;
  readonly inbox: Inbox;
  readonly files: FileWriter;
  readonly executor: Executor;
  readonly transport: Transport;
  readonly logger: Logger;
  /** Methods with a subscriber on this node (the startSub switches applied). */
  readonly enabled: readonly MethodHandler[];
  /** Any method this build knows, for `start(method)`. */
  readonly known: (name: string) => MethodHandler | undefined;
  readonly heardFrom: (node: string) => void;
  readonly reportError: (text: string) => void;
  /** Proofs of origin: checked before anything of a payload is read. */
  readonly trust: Trust;
  /** Whether a proven message from another node may be received, and as what (admission.ts). */
  readonly admit: (msg: Message, from: string) => Admission;
  /** Why a message from `from` is over what that node may cost this one (origin-limits.ts): refused quietly, counted. */
  readonly overLimit: (msg: Message, from: string) => string | undefined;
  /** Why a message that writes into the data folder cannot be taken now (the disk is short of room). */
  readonly noRoom: (msg: Message) => string | undefined;
  /** A message refused before it was received (unproven, or denied): one audit line. */
  readonly refused: (what: { subject: string; from: string; msg?: Message; error: string; rule?: string }) => void;
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
  /** The methods this node accepts, by name, with their subscriber (once subscribed). */
  private readonly active = new Map<string, { handler: MethodHandler; id: number; sub?: Subscription }>();
  private subscribed = false;
  private nextId = 1;

  constructor(private readonly d: ReceiverDeps) {
    for (const m of d.enabled) this.active.set(m.name, { handler: m, id: this.nextId++ });
  }

  subscribe(): void {
    this.subscribed = true;
    for (const [name, entry] of this.active) if (entry.sub === undefined) this.listen(name, entry);
    this.d.logger.info({ methods: [...this.active.keys()] }, 'subscribed');
  }

  /** Unsubscribes everything (the node is stopping). */
  close(): void {
    this.subscribed = false;
    for (const entry of this.active.values()) {
      entry.sub?.unsubscribe();
      delete entry.sub;
    }
  }

  /** The subscribers: one per accepted method, with its subject and id. */
  list(): ProcessInfo[] {
    return [...this.active.entries()].map(([name, e]) => this.info(name, e));
  }

  /** The running subscriber of `method`, if any. */
  subscriber(method: string): ProcessInfo | undefined {
    const e = this.active.get(method);
    return e === undefined ? undefined : this.info(method, e);
  }

  /** Starts a subscriber for `method` (undefined: unknown method; started false: already running). */
  start(method: string): { started: boolean; process: ProcessInfo } | undefined {
    const running = this.active.get(method);
    if (running !== undefined) return { started: false, process: this.info(method, running) };
    const handler = this.d.known(method);
    if (handler === undefined) return undefined;
    const entry: { handler: MethodHandler; id: number; sub?: Subscription } = { handler, id: this.nextId++ };
    this.active.set(method, entry);
    if (this.subscribed) this.listen(method, entry);
    this.d.logger.info({ method, id: entry.id }, 'subscriber started');
    return { started: true, process: this.info(method, entry) };
  }

  /** Stops the subscriber of `method`: its messages are then refused (undefined: not running). */
  stop(method: string): ProcessInfo | undefined {
    const entry = this.active.get(method);
    if (entry === undefined) return undefined;
    this.active.delete(method);
    entry.sub?.unsubscribe();
    this.d.logger.info({ method, id: entry.id }, 'subscriber stopped');
    return this.info(method, entry);
  }

  private listen(name: string, entry: { handler: MethodHandler; sub?: Subscription }): void {
    entry.sub = this.d.transport.subscribe(this.subject(name, entry.handler), (inc) => void this.onIncoming(inc));
  }

  private subject(name: string, handler: MethodHandler): string {
    // A relay node hears relayed messages for any target (the first token names the target).
    if (name === RELAY_METHOD) return `*.${this.d.nodeName}.${name}.${handler.kind}`;
    return `${this.d.nodeName}.${name}.${handler.kind}`;
  }

  private info(name: string, e: { handler: MethodHandler; id: number }): ProcessInfo {
    return { kind: 'subscriber', subject: this.subject(name, e.handler), id: e.id };
  }

  private async onIncoming(inc: Incoming): Promise<void> {
    const header = (name: string): string => inc.header(name);
    // Nothing of the payload is decompressed or decoded before its proof is checked.
    const opened = this.d.trust.open(inc.subject, inc.data, header);
    if (!opened.ok) {
      const claimed = opened.from ?? claimedSender(header);
      const text = `error: refused a message on ${inc.subject} (${inc.data.length} bytes)${claimed === '' ? '' : ` claiming to be from ${claimed}`}: ${opened.error}`;
      this.d.refused({ subject: inc.subject, from: claimed, error: opened.error });
      this.d.reportError(text);
      inc.respond(this.d.trust.sealAck(clipAck({ id: '', status: 'rejected', error: text }), claimed, ''));
      return;
    }
    let msg: Message;
    try {
      msg = await decodeMessage(inc.data, header, this.d.transport.maxPayload + ENVELOPE_MARGIN);
    } catch (err) {
      const text = `error: malformed message on ${inc.subject} (${inc.data.length} bytes): ${(err as Error).message}`;
      this.d.reportError(text);
      inc.respond(this.d.trust.sealAck(clipAck({ id: '', status: 'rejected', error: text }), opened.from ?? '', ''));
      return;
    }
    const from = opened.from ?? msg.fromNode;
    let ack: Ack;
    try {
      ack = await this.acceptFrom(msg, from, inc.subject);
    } catch (err) {
      // The ledger could not commit: no ACK, so the sender tries again.
      this.d.logger.error({ err: (err as Error).message, id: msg.id }, 'cannot record a received message');
      return;
    }
    inc.respond(this.d.trust.sealAck(clipAck(ack), from, msg.id, opened.key, opened.ackProof));
  }

  /** A message proven to come from `from`: admitted (replies matched, the policy asked), then received. */
  private async acceptFrom(msg: Message, from: string, subject: string): Promise<Ack> {
    const reject = (error: string, rule?: string): Ack => {
      this.d.refused({ subject, from, msg, error, ...(rule === undefined ? {} : { rule }) });
      // A refused error report is only logged: reporting it would loop.
      if (msg.method === 'REQErrorLog') this.d.logger.error({ id: msg.id, from }, error);
      else this.d.reportError(`error: refused message ${clip(msg.id)} (${clip(msg.method)}) from ${from}: ${error}`);
      return { id: msg.id, status: 'rejected', error };
    };
    if (msg.fromNode !== from) return reject(`it says it is from ${clip(msg.fromNode)}, but its proof is by ${from}`);
    this.d.heardFrom(from);
    if (msg.toNode !== this.d.nodeName) return reject(`message is for ${msg.toNode}, not ${this.d.nodeName}`);
    const handler = this.active.get(msg.method)?.handler;
    if (handler !== undefined && subject !== subjectFor(msg, handler.kind)) {
      return reject(`method ${clip(msg.method)} arrived on subject ${subject}`);
    }
    const admitted = this.d.admit(msg, from);
    if (!admitted.ok) return reject(admitted.error, admitted.rule);
    // Over its limits: refused without an error report each (that would multiply a flood).
    const over = this.d.overLimit(admitted.msg, from);
    if (over !== undefined) return { id: msg.id, status: 'rejected', error: over };
    return this.accept(admitted.msg);
  }

  /**
   * Takes responsibility for a message: one admitted from another node, or one this node sent
   * itself (its own outbox, delivered without the broker).
   */
  async accept(msg: Message): Promise<Ack> {
    const reject = (error: string): Ack => {
      // A rejected error report is only logged: reporting it would loop.
      if (msg.method === 'REQErrorLog') this.d.logger.error({ id: msg.id, from: msg.fromNode }, error);
      else this.d.reportError(`error: rejected message ${clip(msg.id)} from ${msg.fromNode}: ${error}`);
      return { id: msg.id, status: 'rejected', error };
    };
    const handler = this.active.get(msg.method)?.handler;
    if (handler === undefined) {
      return reject(`method ${clip(msg.method)} has no subscriber on ${this.d.nodeName}`);
    }
    const noRoom = this.d.noRoom(msg);
    if (noRoom !== undefined) return reject(noRoom);
    if (handler.ledger === false) {
      this.d.metrics.received(msg.method);
      this.d.executor.submit(msg, undefined);
      return { id: msg.id, status: 'ok' };
    }
    if (msg.methodTimeoutMs === 0 || msg.methodTimeoutMs < -1) msg.methodTimeoutMs = this.d.defaultMethodTimeoutMs;
    // The ledger tells a re-sent id inside the commit itself, so a copy arriving while the
    // first is being committed is answered "duplicate" only once that commit is durable.
    // A method that must not run twice is marked started before it runs; when it will start at
    // once, the receipt itself says so (one commit less on the way to running it).
    const startNow = handler.onInterrupted === 'report' && this.d.executor.reserve();
    let receipt: { fresh: boolean; checkpoint: string | undefined };
    try {
      receipt = await this.d.inbox.receive(
        msg,
        Date.now(),
        handler.plan === undefined
          ? undefined
          : () => handler.plan?.(msg, { dataFolder: this.d.dataFolder, nodeName: this.d.nodeName, files: this.d.files }),
        (cp) => handler.abandon?.(cp, this.d.files),
        startNow ? 'started' : 'received',
      );
    } catch (err) {
      if (startNow) this.d.executor.release();
      throw err;
    }
    const { fresh, checkpoint } = receipt;
    if (!fresh && startNow) this.d.executor.release();
    if (!fresh) {
      this.d.metrics.duplicate(msg.method);
      return { id: msg.id, status: 'duplicate' };
    }
    this.d.metrics.received(msg.method);
    this.d.onReceived(msg);
    this.d.executor.submit(msg, checkpoint, startNow);
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
