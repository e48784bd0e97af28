import fs from 'node:fs';
import http from 'node:http';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ListenAddress } from '../config/listen.js';
import { closeServer } from '../lib/close-server.js';
import type { GaugeReadings, Metrics } from './metrics.js';

/** ACK round trips: a loopback broker answers in about a millisecond, a satellite link in seconds. */
const ACK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Method durations: from a file append (milliseconds) to a long command (minutes). */
const METHOD_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];

/**
 * The Prometheus metrics of a node (prom-client, its own registry) and the HTTP listener that
 * serves them at `/metrics`, and nothing else: any other path is 404. Loaded only when
 * `promHostAndPort` is set, so a node without metrics does not carry prom-client.
 */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();
  private readGaugesFn: (() => GaugeReadings) | undefined;
  private server: http.Server | undefined;
  private readonly knownDestinations = new Set<string>();

  private readonly userMessages = this.counter(
    'steward_user_messages_total',
    'messages accepted from the inputs (after toNodes expansion)',
  );
  private readonly natsDelivered = this.counter(
    'steward_nats_delivered_total',
    'messages delivered: ACK received, or published for fire-and-forget kinds',
  );
  private readonly failedAcks = this.counter(
    'steward_nats_messages_failed_acks_total',
    'messages given up after their last attempt got no ACK (max retries reached)',
  );
  private readonly missedAcks = this.counter(
    'steward_nats_messages_missed_acks_total',
    'attempts that got no ACK and were followed by another attempt',
  );
  private readonly errorsReceived = this.counter(
    'steward_error_messages_received_total',
    'error reports (REQErrorLog) received by this node',
  );
  private readonly errorsSent = this.counter(
    'steward_error_messages_sent_total',
    'error reports (REQErrorLog) queued by this node for the central node or a sender',
  );
  private readonly deliveredTo = this.counter('steward_messages_delivered_total', 'messages delivered, per destination node', ['toNode']);
  private readonly failedTo = this.counter(
    'steward_messages_failed_total',
    'messages given up, per destination node and reason (max-retries or rejected)',
    ['toNode', 'reason'],
  );
  private readonly retriedTo = this.counter(
    'steward_messages_retried_total',
    're-sends after an attempt got no ACK, per destination node',
    ['toNode'],
  );
  private readonly receivedBy = this.counter('steward_messages_received_total', 'new messages received, per method', ['method']);
  private readonly duplicates = this.counter(
    'steward_messages_duplicate_total',
    're-sent copies of received messages, ACKed again and not run again, per method',
    ['method'],
  );
  private readonly ackSeconds = new Histogram({
    name: 'steward_ack_round_trip_seconds',
    help: 'time from sending a message to receiving its ACK (deliveries over the broker that were ACKed)',
    buckets: ACK_BUCKETS,
    registers: [this.registry],
  });
  private readonly methodSeconds = new Histogram({
    name: 'steward_method_duration_seconds',
    help: 'time a method ran on this node, per method',
    labelNames: ['method'],
    buckets: METHOD_BUCKETS,
    registers: [this.registry],
  });
  private readonly dbMessages = this.gauge('steward_db_messages_current', 'messages in the outbox waiting to be delivered');
  private readonly queueDepth = this.gauge('steward_queue_depth', 'messages waiting to be delivered, per destination node', ['toNode']);
  private readonly queueOldest = this.gauge(
    'steward_queue_oldest_age_seconds',
    'age of the oldest message waiting, per destination node (0 when none waits)',
    ['toNode'],
  );
  private readonly helloNodes = this.gauge('steward_hello_nodes_total', 'distinct nodes this node has received a hello from');
  private readonly helloLast = this.gauge(
    'steward_hello_node_contact_last',
    'unix time in seconds of the last hello received from a node',
    ['nodeName'],
  );

  constructor(private readonly logger: Logger) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'steward_build_version',
      help: 'the version of steward that runs (value 1)',
      labelNames: ['version'],
      registers: [this.registry],
    })
      .labels(packageVersion())
      .set(1);
  }

  accepted(count: number): void {
    this.userMessages.inc(count);
  }

  delivered(toNode: string): void {
    this.knownDestinations.add(toNode);
    this.natsDelivered.inc();
    this.deliveredTo.labels(toNode).inc();
  }

  retried(toNode: string): void {
    this.knownDestinations.add(toNode);
    this.missedAcks.inc();
    this.retriedTo.labels(toNode).inc();
  }

  failed(toNode: string, reason: 'max-retries' | 'rejected'): void {
    this.knownDestinations.add(toNode);
    if (reason === 'max-retries') this.failedAcks.inc();
    this.failedTo.labels(toNode, reason).inc();
  }

  ackRoundTrip(seconds: number): void {
    this.ackSeconds.observe(seconds);
  }

  received(method: string): void {
    if (method === 'REQErrorLog') this.errorsReceived.inc();
    this.receivedBy.labels(method).inc();
  }

  duplicate(method: string): void {
    this.duplicates.labels(method).inc();
  }

  methodDuration(method: string, seconds: number): void {
    this.methodSeconds.labels(method).observe(seconds);
  }

  errorSent(): void {
    this.errorsSent.inc();
  }

  readGauges(read: () => GaugeReadings): void {
    this.readGaugesFn = read;
  }

  /** The text a scrape returns (the gauges read from the store first). */
  async scrape(now = Date.now()): Promise<string> {
    this.refreshGauges(now);
    return this.registry.metrics();
  }

  /** Opens the listener. Rejects (with the address and the reason) when it cannot. */
  async listen(at: ListenAddress): Promise<{ host: string; port: number }> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.maxConnections = 64;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void => reject(new Error(`cannot listen for metrics on ${at.host}:${at.port}: ${err.message}`));
      server.once('error', fail);
      server.listen(at.port, at.host, () => {
        server.off('error', fail);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error({ err: err.message }, 'metrics listener error'));
    this.server = server;
    const addr = server.address();
    const bound = typeof addr === 'object' && addr !== null ? { host: addr.address, port: addr.port } : { host: at.host, port: at.port };
    this.logger.info(bound, 'metrics listening on /metrics');
    return bound;
  }

  /** Closes the listener; safe to call twice. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    await closeServer(server);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      pathname = '';
    }
    if (pathname !== '/metrics') return reply(res, 404, 'not found: steward serves only /metrics here\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return reply(res, 405, 'method not allowed: use GET\n');
    }
    let body: string;
    try {
      body = await this.scrape();
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'cannot collect metrics');
      return reply(res, 500, 'cannot collect metrics, see the node log\n');
    }
    res.writeHead(200, { 'Content-Type': this.registry.contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private refreshGauges(now: number): void {
    const readings = this.readGaugesFn?.();
    if (readings === undefined) return;
    let pending = 0;
    const waiting = new Set<string>();
    for (const q of readings.queues) {
      pending += q.pending;
      waiting.add(q.node);
      this.knownDestinations.add(q.node);
      this.queueDepth.labels(q.node).set(q.pending);
      this.queueOldest.labels(q.node).set(q.pending > 0 ? Math.max(0, (now - q.oldestMs) / 1000) : 0);
    }
    // Destinations seen before and empty now read 0, rather than vanish from the scrape.
    for (const node of this.knownDestinations) {
      if (waiting.has(node)) continue;
      this.queueDepth.labels(node).set(0);
      this.queueOldest.labels(node).set(0);
    }
    this.dbMessages.set(pending);
    this.helloNodes.set(readings.helloNodes.length);
    for (const n of readings.helloNodes) this.helloLast.labels(n.name).set(n.lastSeenMs / 1000);
  }

  private counter(name: string, help: string, labelNames: string[] = []): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}

function reply(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The version in package.json (two folders up, from src/metrics and from dist/metrics alike). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
