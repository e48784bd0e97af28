import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import { encodeMessage, type Encoded } from '../message/codec.js';
import { newId, requestIdOfPart } from '../message/id.js';
import { subjectFor, subjectOf, type Message } from '../message/message.js';
import { RELAY_INITIAL_METHOD, relayBack, relayToVia } from '../message/relay.js';
import { NODE_NAME } from '../message/parse.js';
import { parseInputOffThread, parserThreadUnavailable } from '../message/parse-thread.js';
import { FileWriter } from '../methods/files.js';
import type { MethodContext, ProcessInfo, Processes, SendOutcome } from '../methods/method.js';
import { METHOD_NAMES, METHODS, methodByName } from '../methods/registry.js';
import { NO_METRICS, type Metrics } from '../metrics/metrics.js';
import { AuditLog } from '../store/audit.js';
import { Db, type DbOptions } from '../store/db.js';
import { Inbox } from '../store/inbox.js';
import { NodeRegistry } from '../store/nodes.js';
import { Outbox, type OutboxEntry } from '../store/outbox.js';
import { Spawner } from '../spawn/spawner.js';
import { NatsTransport } from '../transport/nats.js';
import { Delivery } from './delivery.js';
import { ErrorReporter, ERROR_METHOD } from './errors.js';
import { Executor } from './executor.js';
import { Receiver } from './receiver.js';
import { makeReply } from './reply.js';
import { Watchers } from './watch.js';

/** What an input tells its client about one message. */
export type InputResult =
  | { status: 'accepted'; index: number; id: string; toNode: string; subject: string }
  | { status: 'error'; index: number; error: string; toNode?: string };

/** Messages committed per transaction when an input holds many. */
const SUBMIT_CHUNK = 500;

/** How long a stopping node lets its running methods finish before it aborts them. */
const STOP_GRACE_MS = 3000;

/** Bytes of a message beyond which it cannot fit the broker's max payload. */
const ENVELOPE_MARGIN = 1024;

/**
 * One steward node: its store, its broker connection, the delivery of its outbox, its
 * subscribers and the methods they run. Inputs hand it bytes through `acceptInput`.
 */
export class StewardNode {
  readonly db: Db;
  readonly outbox: Outbox;
  readonly inbox: Inbox;
  readonly nodes: NodeRegistry;
  readonly audit: AuditLog;
  readonly transport: NatsTransport;
  readonly delivery: Delivery;
  readonly receiver: Receiver;
  readonly executor: Executor;
  readonly errors: ErrorReporter;
  readonly watchers = new Watchers();
  private readonly files = new FileWriter();
  private readonly spawner: Spawner;
  private readonly abort = abortController();
  private helloTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The warning that large inputs are parsed on the event loop was logged. */
  private warnedNoParserThread = false;

  constructor(
    readonly cfg: ResolvedConfig,
    private readonly logger: Logger,
    private readonly metrics: Metrics = NO_METRICS,
    /** How the store makes its commits durable (tests hold the syncs to see what waits for them). */
    storeOptions: DbOptions = {},
  ) {
    this.db = new Db(cfg.databaseFolder, storeOptions);
    this.outbox = new Outbox(this.db);
    this.inbox = new Inbox(this.db);
    this.nodes = new NodeRegistry(this.db);
    this.audit = new AuditLog(cfg.databaseFolder);
    this.spawner = new Spawner({ mode: cfg.spawnHelper, logger: logger.child({ component: 'spawner' }) });
    this.transport = new NatsTransport({
      servers: cfg.brokerServers,
      nodeName: cfg.nodeName,
      connectTimeoutMs: cfg.connectTimeoutMs,
      connectRetryIntervalMs: cfg.connectRetryIntervalMs,
      reconnectJitterMs: cfg.reconnectJitterMs,
      reconnectJitterTlsMs: cfg.reconnectJitterTlsMs,
      tls: cfg.tls,
      nkeySeed: cfg.nkeySeed,
      logger: logger.child({ component: 'transport' }),
    });
    this.errors = new ErrorReporter({
      nodeName: cfg.nodeName,
      centralNodeName: cfg.centralNodeName,
      ackTimeoutMs: cfg.errorAckTimeoutMs,
      retries: cfg.errorRetries,
      logger: logger.child({ component: 'errors' }),
      submit: (m) => {
        metrics.errorSent();
        return this.submit(m);
      },
    });
    this.executor = new Executor({
      limit: 64,
      inbox: this.inbox,
      files: this.files,
      logger: logger.child({ component: 'executor' }),
      methodByName,
      context: (msg, checkpoint) => this.methodContext(msg, checkpoint),
      reportInterrupted: (msg) => this.reportInterrupted(msg),
      metrics,
      beforeRun: (msg) => this.copyRelayedReply(msg),
    });
    const enabled = METHODS.filter((m) => cfg.subscriberSwitches.get(m.name) ?? true);
    this.receiver = new Receiver({
      nodeName: cfg.nodeName,
      dataFolder: cfg.dataFolder,
      inbox: this.inbox,
      files: this.files,
      executor: this.executor,
      transport: this.transport,
      logger: logger.child({ component: 'receiver' }),
      enabled,
      known: methodByName,
      heardFrom: (node) => this.delivery.heardFrom(node),
      reportError: (text) => this.errors.report(text),
      onReceived: (msg) => this.emitReceived(msg),
      defaultMethodTimeoutMs: cfg.defaultMethodTimeoutMs,
      metrics,
    });
    this.delivery = new Delivery({
      nodeName: cfg.nodeName,
      outbox: this.outbox,
      audit: this.audit,
      transport: this.transport,
      wire: { serialization: cfg.serialization, compression: cfg.compression },
      logger: logger.child({ component: 'delivery' }),
      maxInFlightPerNode: cfg.maxInFlightPerNode,
      maxInFlightTotal: cfg.maxInFlightPerNode * 8,
      // A large input stays in memory (with its wire form) instead of being read back from the
      // outbox and encoded again: up to 10 windows per node, 20 overall (about 2 KB each).
      maxQueuedPerNode: cfg.maxInFlightPerNode * 10,
      maxQueuedTotal: cfg.maxInFlightPerNode * 20,
      metrics,
      kindOf: (method) => methodByName(method)?.kind ?? 'EventACK',
      deliverLocally: (msg) => this.receiver.accept(msg),
      onFinished: (msg, outcome, detail) => this.emitFinished(msg, outcome, detail),
      onFailed: (msg, attempts, reason, detail) => {
        if (msg.method === ERROR_METHOD) return; // never report the failure of a report
        this.errors.report(
          reason === 'max-retries'
            ? ErrorReporter.maxRetriesText(msg, attempts)
            : `error: toNode: ${msg.toNode} rejected message ${msg.id} (method: ${msg.method}): ${detail}`,
        );
      },
    });
    metrics.readGauges(() => ({ queues: this.outbox.summary(), helloNodes: this.nodes.all() }));
  }

  /** Recovers what a previous run left, then connects (retrying) and starts receiving. */
  async start(): Promise<void> {
    const pruned = this.inbox.prune(Date.now()) + this.outbox.prune(Date.now());
    this.pruneTimer = setInterval(() => this.inbox.prune(Date.now()) + this.outbox.prune(Date.now()), 3600_000).unref();
    const recovered = this.executor.recover();
    this.logger.info({ ...recovered, pruned, pendingOutbox: this.outbox.pendingCount() }, 'store opened');
    this.delivery.start();
    await this.transport.start();
    if (this.stopped) return;
    this.receiver.subscribe();
    await this.transport.flush();
    this.startHello();
  }

  /**
   * Parses input bytes and commits the good messages; one result per message. `beforeSubmit`
   * sees the ids of the good messages before they can be delivered (once per chunk committed).
   */
  async acceptInput(bytes: Uint8Array, beforeSubmit?: (ids: string[]) => void): Promise<InputResult[]> {
    const outcomes = await parseInputOffThread(bytes, {
      nodeName: this.cfg.nodeName,
      methods: METHOD_NAMES,
      defaultAckTimeoutMs: this.cfg.defaultAckTimeoutMs,
      defaultRetries: this.cfg.defaultRetries,
      defaultMethodTimeoutMs: this.cfg.defaultMethodTimeoutMs,
    });
    const noThread = parserThreadUnavailable();
    if (noThread !== undefined && !this.warnedNoParserThread) {
      this.warnedNoParserThread = true;
      this.logger.warn({ err: noThread }, 'the parser thread could not start: large inputs are parsed on the event loop');
    }
    const results: InputResult[] = [];
    const limit = this.transport.maxPayload - ENVELOPE_MARGIN;
    // Committed in chunks, so delivery of the first messages of a large input starts while
    // the rest is still being stored.
    for (let start = 0; start < outcomes.length; start += SUBMIT_CHUNK) {
      const accepted: { msg: Message; at: number; encoded: Encoded }[] = [];
      for (const o of outcomes.slice(start, start + SUBMIT_CHUNK)) {
        if (!o.ok) {
          results.push({ status: 'error', index: o.index, error: o.error, ...(o.toNode === undefined ? {} : { toNode: o.toNode }) });
          continue;
        }
        const encoded = await encodeMessage(o.message, { serialization: this.cfg.serialization, compression: this.cfg.compression });
        const size = encoded.payload.length;
        if (size > limit) {
          results.push({
            status: 'error',
            index: o.index,
            toNode: o.message.toNode,
            error: `message ${o.index} is ${size} bytes, more than the broker's max payload allows (${limit} bytes)`,
          });
          continue;
        }
        accepted.push({ msg: o.message, at: results.length, encoded });
        results.push({ status: 'error', index: o.index, error: 'pending' });
      }
      if (accepted.length === 0) continue;
      beforeSubmit?.(accepted.map((a) => a.msg.id));
      try {
        await this.submit(
          accepted.map((a) => a.msg),
          accepted.map((a) => a.encoded),
        );
        this.metrics.accepted(accepted.length);
        for (const { msg, at } of accepted) {
          // A relayed message is shown as it leaves: for its target, on the relay subject.
          const shown = msg.method === RELAY_INITIAL_METHOD ? relayToVia(msg, this.cfg.nodeName) : msg;
          const kind = methodByName(shown.method)?.kind ?? 'EventACK';
          results[at] = { status: 'accepted', index: (results[at] as InputResult).index, id: msg.id, toNode: msg.relayToNode ?? msg.toNode, subject: subjectFor(shown, kind) };
        }
      } catch (err) {
        for (const { at } of accepted) {
          results[at] = { status: 'error', index: (results[at] as InputResult).index, error: `not accepted, the store failed: ${(err as Error).message}` };
        }
      }
    }
    return results;
  }

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
      added = await this.outbox.add(messages, (committed) => {
        handedOn = true;
        const entries: OutboxEntry[] = [];
        committed.forEach((entry, i) => {
          const wire = encoded?.[i];
          if (entry !== undefined) entries.push(wire === undefined ? entry : { ...entry, encoded: wire });
        });
        this.delivery.enqueue(entries);
      });
    } catch (err) {
      if (!handedOn) throw err;
      throw new Error(`${(err as Error).message} (it was committed and its delivery had begun: it may still be delivered)`, { cause: err });
    }
    return added.flatMap((entry, i) => (entry === undefined ? [(messages[i] as Message).id] : []));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.helloTimer !== undefined) clearInterval(this.helloTimer);
    if (this.pruneTimer !== undefined) clearInterval(this.pruneTimer);
    // Take nothing new, give the running methods a moment to finish (their results are kept
    // and sent), then abort the rest: a restart reports those as interrupted or redoes them.
    this.receiver.close();
    await this.executor.drain(STOP_GRACE_MS, () => this.abort.abort());
    this.abort.abort();
    this.spawner.stop();
    this.delivery.stop();
    await this.transport.stop();
    this.audit.close();
    this.db.close();
  }

  private methodContext(msg: Message, checkpoint: string | undefined): MethodContext {
    const logger = this.logger;
    return {
      nodeName: this.cfg.nodeName,
      centralNodeName: this.cfg.centralNodeName,
      dataFolder: this.cfg.dataFolder,
      get logger() {
        return logger.child({ id: msg.id, method: msg.method });
      },
      files: this.files,
      checkpoint,
      signal: this.abort.signal,
      maxPayload: this.transport.maxPayload,
      spawner: this.spawner,
      reply: async (output, seq = 0) => {
        const r = makeReply(
          msg,
          output,
          seq,
          {
            nodeName: this.cfg.nodeName,
            ackTimeoutMs: this.cfg.defaultAckTimeoutMs,
            retries: this.cfg.defaultRetries,
            methodTimeoutMs: this.cfg.defaultMethodTimeoutMs,
          },
          Date.now(),
        );
        if (r !== undefined) await this.submit([r]);
      },
      reportError: (text) => this.errors.reportAbout(msg, text),
      sawNode: (node, atMs) => this.nodes.seen(node, atMs),
      processes: this.processes,
      send: (messages) => this.sendAndWait(messages),
      queue: async (messages) => void (await this.submit(messages)),
      awaitRuns: async (ids) => {
        const missing: string[] = [];
        for (const id of ids) {
          const running = this.executor.whenFinished(id);
          if (running !== undefined) await running;
          else if (this.inbox.state(id) === undefined) missing.push(id);
        }
        return { missing };
      },
    };
  }

  /** Submits messages and waits for the end of each one's delivery (see MethodContext.send). */
  private async sendAndWait(messages: Message[]): Promise<SendOutcome[]> {
    const outcomes = new Map<string, SendOutcome>();
    let wake: (() => void) | undefined;
    const stopWatching = this.watchers.watch(
      messages.map((m) => m.id),
      (ev) => {
        if (ev.event === 'delivered') outcomes.set(ev.id, { id: ev.id, outcome: 'delivered', detail: '' });
        else if (ev.event === 'failed') outcomes.set(ev.id, { id: ev.id, outcome: 'failed', detail: ev.error });
        else if (ev.event === 'cancelled') outcomes.set(ev.id, { id: ev.id, outcome: 'cancelled', detail: 'cancelled by an operator' });
        else return;
        if (outcomes.size === messages.length) wake?.();
      },
    );
    try {
      // Ids already in the outbox (a redo after a restart): their delivery is finished or under way.
      for (const id of await this.submit(messages)) {
        const rec = this.outbox.get(id);
        if (rec === undefined || rec.state === 'pending' || outcomes.has(id)) continue;
        outcomes.set(id, { id, outcome: rec.state, detail: rec.lastError ?? '' });
      }
      if (outcomes.size < messages.length) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (this.abort.signal.aborted) resolve();
          this.abort.signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    } finally {
      stopWatching();
    }
    return messages.map((m) => outcomes.get(m.id) ?? { id: m.id, outcome: 'failed', detail: `${this.cfg.nodeName} is stopping` });
  }

  /** The node's processes as the REQOpProcess methods see them. */
  private readonly processes: Processes = {
    methods: METHOD_NAMES,
    list: () => {
      const publishers: ProcessInfo[] = this.delivery
        .publishers()
        .map((p) => ({ kind: 'publisher', subject: `${p.node}.*`, id: p.id }));
      const rank = (p: ProcessInfo): number => (p.kind === 'subscriber' ? 0 : 1);
      return [...this.receiver.list(), ...publishers].sort((a, b) => rank(a) - rank(b) || (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
    },
    start: (method) => this.receiver.start(method),
    stop: (method) => this.receiver.stop(method),
    subscriber: (method) => this.receiver.subscriber(method),
  };

  /** Step 5 of relaying: a reply about a message this node relayed is copied to where it came from. */
  private async copyRelayedReply(msg: Message): Promise<void> {
    if (!msg.isReply || msg.previousMessage?.relayOriginalViaNode !== this.cfg.nodeName) return;
    const copy = relayBack(msg, this.cfg.nodeName, (n) => NODE_NAME.test(n));
    if (copy !== undefined) await this.submit([copy]);
  }

  private reportInterrupted(msg: Message): void {
    this.errors.reportAbout(
      msg,
      `error: ${msg.method} ${msg.id} from ${msg.fromNode} was interrupted by a restart of ${this.cfg.nodeName} (it was running, or about to start); it is not run again, methodArgs: ${JSON.stringify(msg.methodArgs)}`,
    );
  }

  /** Replies and error reports about messages sent from here, for the operators waiting on them. */
  private emitReceived(msg: Message): void {
    // A reply or error about a part of a request (a copy's end) is news about the request.
    const about = msg.previousMessage?.id;
    if (msg.isReply && typeof about === 'string') {
      this.watchers.emit({ event: 'reply', id: requestIdOfPart(about), node: msg.fromNode, replyMethod: msg.method, data: msg.data.join('') });
    } else if (msg.method === ERROR_METHOD && msg.methodArgs[0] !== undefined) {
      this.watchers.emit({ event: 'error', id: requestIdOfPart(msg.methodArgs[0]), node: msg.fromNode, text: msg.data.join(' ') });
    }
  }

  private emitFinished(msg: Message, outcome: 'delivered' | 'failed' | 'cancelled', detail: string): void {
    if (outcome === 'delivered') this.watchers.emit({ event: 'delivered', id: msg.id, toNode: msg.toNode });
    else if (outcome === 'failed') this.watchers.emit({ event: 'failed', id: msg.id, toNode: msg.toNode, error: detail });
    else this.watchers.emit({ event: 'cancelled', id: msg.id, toNode: msg.toNode });
  }

  /**
   * Cancels pending messages (by id, or every one for a node). Each cancelled message is
   * finished like a failure: an audit line, its waiters told, an info line at central.
   */
  async cancel(ids: readonly string[]): Promise<{ id: string; cancelled: boolean; state: string }[]> {
    const out: { id: string; cancelled: boolean; state: string }[] = [];
    for (const id of ids) {
      const rec = this.outbox.get(id);
      if (rec === undefined) {
        out.push({ id, cancelled: false, state: 'unknown' });
        continue;
      }
      const attempts = this.delivery.flight(id)?.attempts ?? rec.attempts;
      if (!(await this.outbox.cancel(id, 'cancelled by an operator', Date.now()))) {
        out.push({ id, cancelled: false, state: this.outbox.get(id)?.state ?? rec.state });
        continue;
      }
      if (!this.delivery.cancel(id, rec.toNode)) {
        this.audit.record('cancelled', JSON.stringify(rec.message), attempts, 'cancelled by an operator');
        this.emitFinished(rec.message, 'cancelled', '');
      }
      this.errors.report(
        `info: toNode: ${rec.toNode}, fromNode: ${rec.message.fromNode}, method: ${rec.method}, id: ${id}, attempts: ${attempts}: cancelled by an operator before it was delivered`,
        this.cfg.centralNodeName,
        id,
      );
      out.push({ id, cancelled: true, state: 'cancelled' });
    }
    return out;
  }

  private startHello(): void {
    if (this.cfg.helloIntervalMs <= 0) return;
    const send = (): void => {
      const msg: Message = {
        id: newId(),
        toNode: this.cfg.centralNodeName,
        fromNode: this.cfg.nodeName,
        method: 'REQHello',
        methodArgs: [],
        replyMethod: 'REQNone',
        replyMethodArgs: [],
        isReply: false,
        data: [`Hello from ${this.cfg.nodeName}\n`],
        ackTimeoutMs: this.cfg.defaultAckTimeoutMs,
        retries: 0,
        replyAckTimeoutMs: 0,
        replyRetries: 0,
        methodTimeoutMs: 0,
        replyMethodTimeoutMs: 0,
        directory: 'hello-messages',
        fileName: 'hello.log',
        relayViaNode: '',
        relayReplyMethod: '',
        createdMs: Date.now(),
      };
      // Hello is a fire-and-forget event: it is not stored, a missed one is replaced by the next.
      if (msg.toNode === this.cfg.nodeName) {
        void this.receiver.accept(msg).catch(() => {});
        return;
      }
      void encodeMessage(msg, { serialization: this.cfg.serialization, compression: this.cfg.compression })
        .then((e) => this.transport.publish(subjectOf(msg.toNode, msg.method, 'EventNACK'), e.payload, e.headers))
        .catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'hello not sent'));
    };
    send();
    this.helloTimer = setInterval(send, this.cfg.helloIntervalMs);
    this.transport.onConnectionChange((up) => {
      if (up) send();
    });
  }
}

/** One abort signal is shared by every running method: it may have many listeners. */
function abortController(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}
