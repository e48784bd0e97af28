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

/**
 * Says hello to the central node every `intervalMs` (startPubREQHello) and at each (re)connect.
 * A hello is a fire-and-forget event: it is not stored, a missed one is replaced by the next.
 */
export class HelloSender {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: HelloDeps) {}

  start(): void {
    if (this.d.intervalMs <= 0) return;
    this.send();
    this.timer = setInterval(() => this.send(), this.d.intervalMs);
    this.d.transport.onConnectionChange((up) => {
      if (up && this.timer !== undefined) this.send();
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
    const subject = subjectOf(msg.toNode, msg.method, 'EventNACK');
    void encodeMessage(msg, d.wire)
      .then((e) => d.transport.publish(subject, e.payload, d.trust.seal(subject, msg.toNode, e.payload, e.headers)))
      .catch((err: unknown) => d.logger.warn({ err: (err as Error).message }, 'hello not sent'));
  }
}
