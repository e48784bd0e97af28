import type { Logger } from 'pino';
import { encodeMessage, type WireOptions } from '../message/codec.js';
import { newMessage, subjectOf, type Message } from '../message/message.js';
import type { Transport } from '../transport/transport.js';
import type { Trust } from '../trust/trust.js';

export const HELLO_METHOD = 'REQHello';

export interface HelloDeps {
  readonly nodeName: string;
  readonly centralNodeName: string;
  readonly intervalMs: number;
  /** This node's labels: central keeps them with its registry. */
  readonly labels: Readonly<Record<string, string>>;
  readonly ackTimeoutMs: number;
  readonly wire: WireOptions;
  readonly transport: Transport;
  readonly trust: Trust;
  /** A hello to this node itself (this node is central). */
  readonly deliverLocally: (msg: Message) => Promise<unknown>;
  readonly logger: Logger;
}

/** A hello not confirmed by the broker for this many intervals is given up, and the next one sent. */
const UNCONFIRMED_INTERVALS = 3;

/**
 * Says hello to the central node every `intervalMs` (startPubREQHello) and at each (re)connect.
 * A hello is a fire-and-forget event: it is not stored, a missed one is replaced by the next.
 * While one is not through to the broker (a stalled link: the connection open, nothing
 * passing), no other is queued behind it: they would all arrive at once when the link lets go,
 * over central's 2 hellos a second (a line in its error log about an honest node).
 */
export class HelloSender {
  private timer: NodeJS.Timeout | undefined;
  /** When the hello that the broker has not confirmed yet was sent. */
  private unconfirmedSince: number | undefined;

  constructor(private readonly d: HelloDeps) {}

  start(): void {
    if (this.d.intervalMs <= 0) return;
    this.send();
    this.timer = setInterval(() => this.send(), this.d.intervalMs);
    this.d.transport.onConnectionChange((up) => {
      if (!up || this.timer === undefined) return;
      this.unconfirmedSince = undefined;
      this.send();
    });
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private send(): void {
    const d = this.d;
    const msg = newMessage({
      toNode: d.centralNodeName,
      fromNode: d.nodeName,
      method: HELLO_METHOD,
      methodArgs: Object.keys(d.labels).length === 0 ? [] : [JSON.stringify(d.labels)],
      data: [`Hello from ${d.nodeName}\n`],
      ackTimeoutMs: d.ackTimeoutMs,
      retries: 0,
      directory: 'hello-messages',
      fileName: 'hello.log',
    });
    if (msg.toNode === d.nodeName) {
      void d.deliverLocally(msg).catch(() => {});
      return;
    }
    const now = Date.now();
    if (this.unconfirmedSince !== undefined && now - this.unconfirmedSince < UNCONFIRMED_INTERVALS * d.intervalMs) {
      d.logger.debug('hello skipped: the one before is not through to the broker yet');
      return;
    }
    const since = now;
    this.unconfirmedSince = since;
    const confirmed = (): void => {
      if (this.unconfirmedSince === since) this.unconfirmedSince = undefined;
    };
    const subject = subjectOf(msg.toNode, msg.method, 'EventNACK');
    void encodeMessage(msg, d.wire)
      .then((e) => {
        if (d.transport.publish(subject, e.payload, d.trust.seal(subject, msg.toNode, e.payload, e.headers).headers) !== 'sent')
          return confirmed();
        return d.transport.flush().then(confirmed, confirmed);
      })
      .catch((err: unknown) => {
        confirmed();
        d.logger.warn({ err: (err as Error).message }, 'hello not sent');
      });
  }
}
