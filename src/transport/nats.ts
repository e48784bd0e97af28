import {
  connect,
  MsgHdrsImpl,
  nkeyAuthenticator,
  nuid,
  PermissionViolationError,
  type MsgHdrs,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { randomFillSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { TlsMaterial } from '../config/tls.js';
import { TransportError, type Incoming, type Subscription, type Transport } from './transport.js';

export interface TransportOptions {
  readonly servers: string[];
  readonly nodeName: string;
  readonly connectTimeoutMs: number;
  readonly connectRetryIntervalMs: number;
  readonly reconnectJitterMs: number;
  readonly reconnectJitterTlsMs: number;
  /** TLS material (PEM text); undefined = TLS only when the broker requires it, verified against the system CAs. */
  readonly tls: TlsMaterial | undefined;
  /** The text of an nkey user seed (`SU...`); undefined = no nkey authentication. */
  readonly nkeySeed: Uint8Array | undefined;
  readonly logger: Logger;
}

/**
 * The only place that talks to NATS. Connects with retries, reconnects forever, keeps ACK
 * inboxes under `_INBOX.<nodeName>.` so broker permissions can be scoped per node.
 */
export class NatsTransport implements Transport {
  private nc: NatsConnection | undefined;
  private up = false;
  private stopped = false;
  /** Aborted by stop(): ends the waits between connection attempts at once. */
  private readonly stopping = new AbortController();
  private readonly listeners: ((up: boolean) => void)[] = [];
  private replyPrefix: string | undefined;
  private readonly waiting = new Map<
    string,
    { subject: string; resolve: (data: Uint8Array) => void; reject: (err: TransportError) => void; timer: NodeJS.Timeout }
  >();

  constructor(private readonly opts: TransportOptions) {}

  get connected(): boolean {
    return this.up && this.nc !== undefined && !this.nc.isClosed();
  }

  /** The broker's max payload in bytes (1 MiB until connected). */
  get maxPayload(): number {
    return this.nc?.info?.max_payload ?? 1024 * 1024;
  }

  /** Calls `cb(true)` on (re)connect and `cb(false)` on disconnect. */
  onConnectionChange(cb: (up: boolean) => void): void {
    this.listeners.push(cb);
  }

  /** Connects, retrying every connectRetryInterval until it works or stop() is called. */
  async start(): Promise<void> {
    const log = this.opts.logger;
    while (!this.stopped) {
      try {
        this.nc = await connect(this.connectOptions());
        break;
      } catch (err) {
        log.error(
          { err: describeConnectError(err, this.opts), servers: this.opts.servers },
          `could not connect to the broker, retrying in ${this.opts.connectRetryIntervalMs / 1000} s`,
        );
        await sleep(this.opts.connectRetryIntervalMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
    const nc = this.nc;
    if (nc === undefined) return;
    this.subscribeReplies(nc);
    log.info({ server: nc.getServer() }, 'connected to the broker');
    this.setUp(true);
    void this.watch(nc);
  }

  private connectOptions(): NodeConnectionOptions {
    const o: NodeConnectionOptions = {
      servers: this.opts.servers,
      name: this.opts.nodeName,
      inboxPrefix: `_INBOX.${this.opts.nodeName}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      reconnectJitter: this.opts.reconnectJitterMs,
      reconnectJitterTLS: this.opts.reconnectJitterTlsMs,
      timeout: this.opts.connectTimeoutMs,
      pingInterval: 10_000,
      maxPingOut: 3,
      // A key refused twice in a row (say, while the broker's config is being changed) must not
      // end the connection for good: a node reconnects forever.
      ignoreAuthErrorAbort: true,
      // Stack traces for every request cost ~10% of CPU in a burst; our errors say what failed.
      noAsyncTraces: true,
    };
    // `tls` stays unset unless configured: the client crashes on `tls: null` against a TLS broker,
    // and unset still does TLS (verified against the system CAs) when the broker requires it.
    if (this.opts.tls !== undefined) o.tls = { ...this.opts.tls };
    if (this.opts.nkeySeed !== undefined) o.authenticator = nkeyAuthenticator(this.opts.nkeySeed);
    return o;
  }

  private async watch(nc: NatsConnection): Promise<void> {
    const log = this.opts.logger;
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        log.warn({ server: s.server }, 'disconnected from the broker, reconnecting');
        this.setUp(false);
      } else if (s.type === 'reconnect') {
        log.info({ server: s.server }, 'reconnected to the broker');
        this.setUp(true);
      } else if (s.type === 'error') {
        log.error({ err: s.error.message }, 'broker reported an error');
        if (s.error instanceof PermissionViolationError && s.error.operation === 'publish') this.refused(s.error);
      }
    }
  }

  /**
   * The broker refused a publish: the requests waiting on that subject can never be answered, so
   * their attempts fail now with the broker's words instead of as a silent ACK timeout.
   */
  private refused(err: PermissionViolationError): void {
    for (const [token, w] of this.waiting) {
      if (w.subject !== err.subject) continue;
      this.waiting.delete(token);
      clearTimeout(w.timer);
      w.reject(new TransportError('error', `the broker refused it: ${err.message}`));
    }
  }

  private setUp(up: boolean): void {
    this.up = up;
    for (const l of this.listeners) l(up);
  }

  /**
   * Sends a request and waits for one answer; throws TransportError. Answers come back on one
   * wildcard subscription under `_INBOX.<nodeName>.` and are matched by token here: cheaper
   * than the client's request(), which builds error objects for every request.
   */
  request(subject: string, payload: Uint8Array, hdrs: Record<string, string>, timeoutMs: number): Promise<Uint8Array> {
    const nc = this.nc;
    if (nc === undefined || !this.connected || this.replyPrefix === undefined) {
      return Promise.reject(new TransportError('disconnected', 'not connected to the broker'));
    }
    // Unguessable: a node sees the reply subjects of the requests sent to it, and must not be able
    // to answer the requests this node sends to others.
    const token = randomToken();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(token);
        reject(new TransportError('timeout', `no ACK for ${subject} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(token, { subject, resolve, reject, timer });
      try {
        nc.publish(subject, payload, { reply: `${this.replyPrefix}.${token}`, headers: toHeaders(hdrs) });
      } catch (err) {
        clearTimeout(timer);
        this.waiting.delete(token);
        reject(new TransportError('error', `request on ${subject} failed: ${(err as Error).message}`, { cause: err }));
      }
    });
  }

  private subscribeReplies(nc: NatsConnection): void {
    const prefix = `_INBOX.${this.opts.nodeName}.${nuid.next()}`;
    nc.subscribe(`${prefix}.*`, {
      callback: (err, m) => {
        if (err !== null) return;
        const token = m.subject.slice(prefix.length + 1);
        const w = this.waiting.get(token);
        if (w === undefined) return; // late: its attempt already timed out
        this.waiting.delete(token);
        clearTimeout(w.timer);
        if (m.data.length === 0 && m.headers?.code === 503) w.reject(new TransportError('no-responders', `no subscriber for ${w.subject}`));
        else w.resolve(m.data);
      },
    });
    this.replyPrefix = prefix;
  }

  /** Publishes without waiting for an answer (NACK kinds). */
  publish(subject: string, payload: Uint8Array, hdrs: Record<string, string>): 'sent' | 'disconnected' | 'refused' {
    const nc = this.nc;
    if (nc === undefined || !this.connected) return 'disconnected';
    try {
      nc.publish(subject, payload, { headers: toHeaders(hdrs) });
    } catch (err) {
      // Larger than the broker's max payload, or the connection is closing: sending it again
      // would fail the same way.
      this.opts.logger.error({ err: (err as Error).message, subject, bytes: payload.length }, 'could not publish');
      return 'refused';
    }
    return 'sent';
  }

  subscribe(subject: string, handler: (msg: Incoming) => void): Subscription {
    const nc = this.nc;
    if (nc === undefined) throw new Error('subscribe before the transport is started');
    const sub: Subscription = nc.subscribe(subject, {
      callback: (err, m) => {
        if (err !== null) {
          this.opts.logger.error({ err: err.message, subject }, 'subscription error');
          return;
        }
        handler({
          subject: m.subject,
          data: m.data,
          header: (name) => m.headers?.get(name) ?? '',
          respond: (data) => {
            try {
              return m.respond(data);
            } catch (e) {
              // Closing, or an answer larger than the broker takes: the sender sees no ACK and retries.
              this.opts.logger.error({ err: (e as Error).message, subject: m.subject, bytes: data.length }, 'could not answer a request');
              return false;
            }
          },
        });
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }

  async flush(): Promise<void> {
    if (this.nc !== undefined && this.connected) await this.nc.flush();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopping.abort();
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new TransportError('disconnected', 'the node is stopping'));
    }
    this.waiting.clear();
    const nc = this.nc;
    if (nc === undefined || nc.isClosed()) return;
    try {
      await Promise.race([nc.drain(), sleep(2000, undefined, { ref: false })]);
    } catch {
      // Draining a connection that is down fails; closing is all that is left to do.
    }
    if (!nc.isClosed()) await nc.close();
  }
}

/** The connect error, with a hint when it is about TLS or authentication. */
function describeConnectError(err: unknown, opts: TransportOptions): string {
  const msg = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
  const text = `${msg} ${typeof code === 'string' ? code : ''}`;
  if (/certificate|self.signed|UNABLE_TO_|CERT_|ERR_TLS/i.test(text)) {
    return opts.tls?.ca === undefined
      ? `TLS: the broker's certificate could not be verified (${msg}); give the CA that signed it with -rootCAPath`
      : `TLS: the broker's certificate could not be verified with the CA in -rootCAPath (${msg})`;
  }
  if (/does not support 'tls'|tls is not available/i.test(msg)) {
    return `the broker does not offer TLS (${msg}), but this node has -rootCAPath or -tlsCertPath: give the broker a tls block, or drop them`;
  }
  if (msg === 'timeout' && opts.tls !== undefined) {
    // A broker that verifies client certificates ends the TLS session of a client without a
    // valid one right after the handshake; the client only notices it as a connect timeout.
    return opts.tls.cert === undefined
      ? `timeout: no answer from the broker within ${opts.connectTimeoutMs / 1000} s; if it requires TLS client certificates, give -tlsCertPath and -tlsKeyPath`
      : `timeout: no answer from the broker within ${opts.connectTimeoutMs / 1000} s; if it requires TLS client certificates, check that its ca_file signed -tlsCertPath`;
  }
  if (/authorization violation|authentication/i.test(msg)) {
    return opts.nkeySeed === undefined
      ? `the broker refused the connection (${msg}); it may require an nkey: give -nkeySeedFile`
      : `the broker refused the connection (${msg}): is this node's public key in its authorization block?`;
  }
  return msg;
}

/**
 * NATS headers holding `h`. Their names and values are all steward's own (the wire's `serial` and
 * `cmp`, the proof), so they are not put through nats.js's per-header checks (a name's canonical
 * form, a search of the names so far, a regular expression over the value and a trim: 0.3 µs a
 * header on every message here, the 100-character proof the largest). A value with a line break
 * would still end the header block early, so it is refused.
 */
function toHeaders(h: Record<string, string>): MsgHdrs {
  const values: Record<string, string[]> = {};
  for (const k in h) {
    const v = h[k] as string;
    if (v.includes('\n') || v.includes('\r')) throw new Error(`the header ${k} holds a line break`);
    values[k] = [v];
  }
  return MsgHdrsImpl.fromRecord(values);
}

/** Random bytes for request tokens, drawn from a pool refilled 4 KiB at a time. */
const tokenPool = Buffer.alloc(4096);
let tokenAt = tokenPool.length;
function randomToken(): string {
  if (tokenAt + 12 > tokenPool.length) {
    randomFillSync(tokenPool);
    tokenAt = 0;
  }
  const t = tokenPool.toString('base64url', tokenAt, tokenAt + 12);
  tokenAt += 12;
  return t;
}
