import type { Logger } from 'pino';
import type { ResolvedConfig } from '../config/load.js';
import { inputAcceptor, type AcceptInput } from '../inputs/accept.js';
import { NODE_NAME, type Kind, type Message } from '../message/message.js';
import { relayBack } from '../message/relay.js';
import { METHOD_NAMES, METHODS, methodByName } from '../methods/registry.js';
import { NO_METRICS, type Metrics } from '../metrics/metrics.js';
import { Spawner } from '../spawn/spawner.js';
import { AuditLog } from '../store/audit.js';
import { Db, type DbOptions } from '../store/db.js';
import { FileWriter } from '../store/files.js';
import { Inbox } from '../store/inbox.js';
import { NodeRegistry } from '../store/nodes.js';
import { Outbox } from '../store/outbox.js';
import type { NkeyPair } from '../trust/nkey.js';
import type { Transport } from '../transport/transport.js';
import type { Control } from './control.js';
import { controlOf } from './control-setup.js';
import { Delivery } from './delivery.js';
import { ERROR_METHOD, ErrorReporter } from './error-reporter.js';
import { Executor } from './executor.js';
import { HelloSender } from './hello.js';
import { methodContextFactory } from './method-context.js';
import { Outgoing } from './outgoing.js';
import { nodeProcesses } from './processes.js';
import { Receiver } from './receiver.js';
import { admit } from './admission.js';
import { recheck, setUpTrust, withOrigin, type NodeTrust } from './trust-setup.js';
import { TRUST_OFF_DECISION } from '../trust/policy.js';
import { peerRotated } from './rotation.js';
import { emitFinished, emitReceived, Watchers } from './watch.js';
import { originGuard, roomGuard } from './guards.js';
import { setUpFleet, type NodeFleet } from './fleet-setup.js';
import { natsTransport } from './transport-setup.js';
import { OriginLimits } from './origin-limits.js';

export interface NodeOptions {
  readonly cfg: ResolvedConfig;
  readonly logger: Logger;
  readonly metrics?: Metrics | undefined;
  /** The node's key (trust/identity.ts): it proves its messages, and with -nkeySeedFile authenticates it to the broker. */
  readonly identity: NkeyPair;
  /** How the store makes its commits durable (tests hold the syncs to see what waits for them). */
  readonly storeOptions?: DbOptions;
  /** The broker connection (default: NATS, as configured). */
  readonly transport?: Transport;
}

/**
 * One steward node, wired: its store, its broker connection, the delivery of its outbox, its
 * subscribers and the methods they run. Inputs hand it bytes through `accept`; operators talk
 * to `control`.
 */
export class StewardNode {
  readonly db: Db;
  readonly outbox: Outbox;
  readonly inbox: Inbox;
  readonly nodes: NodeRegistry;
  readonly audit: AuditLog;
  readonly transport: Transport;
  readonly delivery: Delivery;
  readonly receiver: Receiver;
  readonly executor: Executor;
  readonly errors: ErrorReporter;
  readonly outgoing: Outgoing;
  readonly watchers = new Watchers();
  readonly control: Control;
  /** The node's keys, proofs and policy. */
  readonly trusted: NodeTrust;
  /** Jobs: messages for many nodes, tracked per node, in rollouts, on schedules. */
  readonly fleet: NodeFleet;
  /** Parses input bytes and commits the good messages; one result per message. */
  readonly accept: AcceptInput;
  private readonly files: FileWriter;
  private readonly spawner: Spawner;
  private readonly hello: HelloSender;
  private pruneTimer: NodeJS.Timeout | undefined;
  /** What each other node may cost this one (error lines, hellos, new names a second). */
  private readonly limits: OriginLimits;
  private stopped = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly o: NodeOptions) {
    const { cfg, logger } = o;
    const metrics = o.metrics ?? NO_METRICS;
    const wire = { serialization: cfg.serialization, compression: cfg.compression };
    const kindOf = methodKind;
    this.files = new FileWriter([cfg.dataFolder, ...cfg.copyRoots]);
    this.db = new Db(cfg.databaseFolder, o.storeOptions ?? {});
    this.outbox = new Outbox(this.db);
    this.inbox = new Inbox(this.db);
    this.nodes = new NodeRegistry(this.db);
    this.audit = new AuditLog(cfg.databaseFolder);
    this.spawner = new Spawner({ mode: cfg.spawnHelper, logger: logger.child({ component: 'spawner' }) });
    this.transport = o.transport ?? natsTransport(cfg, o.identity, logger.child({ component: 'transport' }));
    this.errors = new ErrorReporter({
      nodeName: cfg.nodeName,
      centralNodeName: cfg.centralNodeName,
      ackTimeoutMs: cfg.errorAckTimeoutMs,
      retries: cfg.errorRetries,
      logger: logger.child({ component: 'errors' }),
      submit: (m) => {
        metrics.errorSent();
        return this.outgoing.submit(m);
      },
    });
    this.limits = new OriginLimits({
      errorLinesPerSecond: 100,
      summaryLinesPerWindow: 10,
      helloPerSecond: 2,
      newNamesPerMinute: cfg.newNamesPerMinute,
      summarize: (text) => this.errors.report(text),
    });
    this.trusted = setUpTrust(
      cfg,
      o.identity,
      this.db,
      this.audit,
      (text) => this.errors.report(text),
      logger.child({ component: 'trust' }),
    );
    const { trust } = this.trusted;
    this.delivery = new Delivery({
      trust,
      nodeName: cfg.nodeName,
      outbox: this.outbox,
      audit: this.audit,
      transport: this.transport,
      wire,
      logger: logger.child({ component: 'delivery' }),
      maxInFlightPerNode: cfg.maxInFlightPerNode,
      maxInFlightTotal: cfg.maxInFlightTotal,
      maxQueuedPerNode: cfg.maxQueuedPerNode,
      maxQueuedTotal: cfg.maxQueuedTotal,
      metrics,
      kindOf,
      deliverLocally: (msg) => this.receiver.accept(msg),
      onFinished: (msg, outcome, detail) => emitFinished(this.watchers, msg, outcome, detail),
      onUnanswered: (msg, attempts, error) => this.watchers.emit({ event: 'unanswered', id: msg.id, toNode: msg.toNode, attempts, error }),
      onFailed: (msg, attempts, reason, detail) => {
        if (msg.method === ERROR_METHOD) return; // never report the failure of a report
        this.errors.report(
          reason === 'max-retries'
            ? ErrorReporter.maxRetriesText(msg, attempts)
            : `error: toNode: ${msg.toNode} rejected message ${msg.id} (method: ${msg.method}): ${detail}`,
        );
      },
    });
    this.outgoing = new Outgoing({
      outbox: this.outbox,
      delivery: this.delivery,
      audit: this.audit,
      watchers: this.watchers,
      centralNodeName: cfg.centralNodeName,
      report: (text, to, id) => this.errors.report(text, to, id),
    });
    // The receiver is made after the executor, which runs the methods that list its subscribers.
    const processes = nodeProcesses(METHOD_NAMES, () => this.receiver, this.delivery);
    this.executor = new Executor({
      limit: cfg.executorLimit,
      inbox: this.inbox,
      files: this.files,
      logger: logger.child({ component: 'executor' }),
      methodByName,
      context: methodContextFactory({
        nodeName: cfg.nodeName,
        dataFolder: cfg.dataFolder,
        logger,
        files: this.files,
        spawner: this.spawner,
        processes,
        replyDefaults: {
          nodeName: cfg.nodeName,
          ackTimeoutMs: cfg.defaultAckTimeoutMs,
          retries: cfg.defaultRetries,
          methodTimeoutMs: cfg.defaultMethodTimeoutMs,
        },
        maxPayload: () => this.transport.maxPayload,
        submit: (m) => this.outgoing.submit(m),
        sendAndWait: (m, signal) => this.outgoing.sendAndWait(m, signal),
        reportAbout: (msg, text) => this.errors.reportAbout(msg, text),
        sawNode: (node, atMs, labels) => this.nodes.seen(node, atMs, labels),
        whenFinished: (id) => this.executor.whenFinished(id),
        received: (id) => this.inbox.state(id) !== undefined,
        peerRotated: (node, data) => peerRotated(this.trusted.keyring, this.trusted.proofs, node, data),
        copyRoots: cfg.copyRoots,
      }),
      reportInterrupted: (msg) => this.reportInterrupted(msg),
      metrics,
      beforeRun: (msg) => this.copyRelayedReply(msg),
      recheck: (msg) => recheck(msg, cfg, this.trusted),
    });
    this.receiver = new Receiver({
      trust,
      admit: (msg, from) =>
        admit(msg, from, {
          nodeName: cfg.nodeName,
          centralName: cfg.centralNodeName,
          sent: (id) => this.outbox.get(id),
          decide: (req) => (cfg.trust ? this.trusted.policy.decide(req) : TRUST_OFF_DECISION),
          proofs: cfg.trust ? this.trusted.proofs : undefined,
          keyOf: (node) => this.trusted.keyring.keyOf(node),
          revoked: (node) => this.trusted.keyring.get(node)?.state === 'revoked',
          bind: (node, key) => this.trusted.keyring.check(node, key).ok,
          switchedOff: (method) => cfg.subscriberSwitches.get(method) === false,
          now: Date.now,
        }),
      refused: (r) => this.audit.refused({ ...r, ...(r.msg === undefined ? {} : { messageJson: JSON.stringify(r.msg) }) }),
      // A name is new to the hello limit unless heard from, or its key is pinned here (bound or
      // imported): the keyring already paced those, and a fleet imported up front comes up at once.
      overLimit: originGuard(this.limits, (node) => this.nodes.has(node) || this.trusted.keyring.get(node)?.state === 'pinned'),
      noRoom: roomGuard(cfg.dataFolder, cfg.minFreeDiskBytes, cfg.nodeName),
      nodeName: cfg.nodeName,
      dataFolder: cfg.dataFolder,
      inbox: this.inbox,
      files: this.files,
      executor: this.executor,
      transport: this.transport,
      logger: logger.child({ component: 'receiver' }),
      enabled: METHODS.filter((m) => cfg.subscriberSwitches.get(m.name) ?? true),
      known: methodByName,
      heardFrom: (node) => this.delivery.heardFrom(node),
      reportError: (text) => this.errors.report(text),
      onReceived: (msg) => emitReceived(this.watchers, msg),
      defaultMethodTimeoutMs: cfg.defaultMethodTimeoutMs,
      metrics,
    });
    this.hello = new HelloSender({
      trust,
      labels: cfg.labels,
      nodeName: cfg.nodeName,
      centralNodeName: cfg.centralNodeName,
      intervalMs: cfg.helloIntervalMs,
      ackTimeoutMs: cfg.defaultAckTimeoutMs,
      wire,
      transport: this.transport,
      deliverLocally: (msg) => this.receiver.accept(msg),
      logger: logger.child({ component: 'hello' }),
    });
    const prepare = (msg: Message): Message => (cfg.trust ? withOrigin(msg, this.trusted.proofs) : msg);
    this.fleet = setUpFleet({
      db: this.db,
      outbox: this.outbox,
      inbox: this.inbox,
      nodes: this.nodes,
      outgoing: this.outgoing,
      watchers: this.watchers,
      prepare,
      logger: logger.child({ component: 'jobs' }),
    });
    this.accept = inputAcceptor({
      parse: {
        nodeName: cfg.nodeName,
        methods: METHOD_NAMES,
        defaultAckTimeoutMs: cfg.defaultAckTimeoutMs,
        defaultRetries: cfg.defaultRetries,
        defaultMethodTimeoutMs: cfg.defaultMethodTimeoutMs,
      },
      wire,
      maxPayload: () => this.transport.maxPayload,
      kindOf,
      chunk: cfg.submitChunk,
      submit: (m, e) => this.outgoing.submit(m, e),
      accepted: (n) => metrics.accepted(n),
      prepare,
      submitJob: (t, r, hook) => this.fleet.submitJob(t, r, hook),
      logger,
    });
    this.control = controlOf(this, cfg);
    metrics.readGauges(() => ({ queues: this.outbox.summary(), helloNodes: this.nodes.all() }));
  }

  /** Recovers what a previous run left, then connects (retrying) and starts receiving. */
  async start(): Promise<void> {
    const prune = (): number => this.inbox.prune(Date.now()) + this.outbox.prune(Date.now());
    const pruned = prune();
    this.pruneTimer = setInterval(prune, 3600_000).unref();
    await this.trusted.keyring.provisionCentral();
    const recovered = this.executor.recover();
    this.logger.info({ ...recovered, pruned, pendingOutbox: this.outbox.pendingCount() }, 'store opened');
    this.delivery.start();
    await this.fleet.jobs.start();
    this.fleet.schedules.start();
    await this.transport.start();
    if (this.stopped) return;
    this.receiver.subscribe();
    await this.transport.flush();
    this.hello.start();
  }

  private get logger(): Logger {
    return this.o.logger;
  }

  /** SIGHUP: reads policy.toml again; a file that does not parse leaves the rules in force (and says why). */
  reloadPolicy(): void {
    try {
      const r = this.trusted.policy.reload();
      this.o.logger.info(r, 'policy reloaded');
    } catch (err) {
      this.o.logger.error({ err: (err as Error).message }, 'policy not reloaded: the rules in force stay');
      this.errors.report(`error: ${this.o.cfg.nodeName}: policy.toml not reloaded, the rules in force stay: ${(err as Error).message}`);
    }
  }

  /** Stops the node (a second call waits for the first). */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    this.stopped = true;
    this.hello.stop();
    this.limits.stop();
    this.fleet.jobs.stop();
    this.fleet.schedules.stop();
    if (this.pruneTimer !== undefined) clearInterval(this.pruneTimer);
    // Take nothing new, give the running methods a moment to finish (their results are kept
    // and sent), then abort the rest: a restart reports those as interrupted or redoes them.
    this.receiver.close();
    await this.executor.drain(this.o.cfg.stopGraceMs);
    this.executor.abortAll();
    this.spawner.stop();
    this.delivery.stop();
    await this.transport.stop();
    this.audit.close();
    this.db.close();
  }

  /** Step 5 of relaying: a reply about a message this node relayed is copied to where it came from. */
  private async copyRelayedReply(msg: Message): Promise<void> {
    if (!msg.isReply || msg.previousMessage?.relayOriginalViaNode !== this.o.cfg.nodeName) return;
    const copy = relayBack(msg, this.o.cfg.nodeName, (n) => NODE_NAME.test(n));
    if (copy !== undefined) await this.outgoing.submit([copy]);
  }

  private reportInterrupted(msg: Message): void {
    this.errors.reportAbout(
      msg,
      `error: ${msg.method} ${msg.id} from ${msg.fromNode} was interrupted by a restart of ${this.o.cfg.nodeName} (it was running, or about to start); it is not run again, methodArgs: ${JSON.stringify(msg.methodArgs)}`,
    );
  }
}

/** The subject kind of a method (EventACK for a name this build does not know). */
function methodKind(method: string): Kind {
  return methodByName(method)?.kind ?? 'EventACK';
}
