import { TransportError, type Incoming, type Subscription, type Transport } from '../../src/transport/transport.js';

/** How a fake node answers a request: an ACK's bytes, or a failure. */
export type FakeAnswer = Uint8Array | 'no-responders' | 'silent' | 'disconnected';

export interface FakeRequest {
  readonly subject: string;
  readonly payload: Uint8Array;
  readonly headers: Record<string, string>;
  readonly timeoutMs: number;
}

/**
 * A Transport for unit tests of the core: no broker. Requests are answered by `answer` (by the
 * subject's first token, the destination node), published messages are recorded, and the
 * connection can be dropped and restored. A 'silent' node makes the request time out after its
 * timeout (a setTimeout, so node:test's mock timers drive it).
 */
export class FakeTransport implements Transport {
  connected = true;
  maxPayload = 1024 * 1024;
  readonly requests: FakeRequest[] = [];
  readonly published: { subject: string; payload: Uint8Array; headers: Record<string, string> }[] = [];
  /** Requests sent and not answered yet, per destination node. */
  readonly open = new Map<string, number>();
  private readonly listeners: ((up: boolean) => void)[] = [];
  private readonly subs = new Map<string, (m: Incoming) => void>();

  constructor(private answer: (req: FakeRequest) => FakeAnswer | Promise<FakeAnswer> = () => 'no-responders') {}

  /** Changes how requests are answered from now on. */
  answerWith(answer: (req: FakeRequest) => FakeAnswer | Promise<FakeAnswer>): void {
    this.answer = answer;
  }

  onConnectionChange(cb: (up: boolean) => void): void {
    this.listeners.push(cb);
  }

  setConnected(up: boolean): void {
    this.connected = up;
    for (const l of this.listeners) l(up);
  }

  async start(): Promise<void> {}

  async request(subject: string, payload: Uint8Array, headers: Record<string, string>, timeoutMs: number): Promise<Uint8Array> {
    if (!this.connected) throw new TransportError('disconnected', 'not connected to the broker');
    const req = { subject, payload, headers, timeoutMs };
    this.requests.push(req);
    const node = subject.split('.')[0] ?? '';
    this.open.set(node, (this.open.get(node) ?? 0) + 1);
    try {
      const a = await this.answer(req);
      if (a instanceof Uint8Array) return a;
      if (a === 'no-responders') throw new TransportError('no-responders', `no subscriber for ${subject}`);
      if (a === 'disconnected') throw new TransportError('disconnected', 'the connection dropped');
      await new Promise((r) => setTimeout(r, timeoutMs));
      throw new TransportError('timeout', `no ACK for ${subject} within ${timeoutMs} ms`);
    } finally {
      this.open.set(node, (this.open.get(node) ?? 1) - 1);
    }
  }

  publish(subject: string, payload: Uint8Array, headers: Record<string, string>): 'sent' | 'disconnected' | 'refused' {
    if (!this.connected) return 'disconnected';
    if (payload.length > this.maxPayload) return 'refused';
    this.published.push({ subject, payload, headers });
    return 'sent';
  }

  subscribe(subject: string, handler: (msg: Incoming) => void): Subscription {
    this.subs.set(subject, handler);
    return { unsubscribe: () => this.subs.delete(subject) };
  }

  /** Delivers a message to the subscriber of `subject`; resolves with its answer. */
  deliver(subject: string, data: Uint8Array, headers: Record<string, string> = {}): Promise<Uint8Array | string | undefined> {
    const handler = this.subs.get(subject);
    if (handler === undefined) throw new Error(`no subscriber for ${subject}`);
    return new Promise((resolve) => {
      handler({ subject, data, header: (n) => headers[n] ?? '', respond: (d) => (resolve(d), true) });
    });
  }

  private flushHeld: (() => void)[] | undefined;

  /** From now on flush() waits for releaseFlush(): a stalled link (connection open, nothing through). */
  holdFlush(): void {
    this.flushHeld ??= [];
  }

  releaseFlush(): void {
    const waiting = this.flushHeld ?? [];
    this.flushHeld = undefined;
    for (const r of waiting) r();
  }

  async flush(): Promise<void> {
    const held = this.flushHeld;
    if (held !== undefined) await new Promise<void>((r) => held.push(r));
  }

  async stop(): Promise<void> {}
}

/** An ACK for message `id`, as a receiver sends it. */
export function ackBytes(id: string, status: 'ok' | 'duplicate' | 'rejected' = 'ok', error?: string): Uint8Array {
  return Buffer.from(JSON.stringify({ id, status, ...(error === undefined ? {} : { error }) }));
}
