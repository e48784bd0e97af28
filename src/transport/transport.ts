/**
 * What the rest of steward needs from the broker, and nothing more. `nats.ts` implements it over
 * NATS; unit tests use the fake in test/support/fake-transport.ts. Nothing outside transport/
 * imports the NATS client.
 */

/** A message arriving on a subscription. */
export interface Incoming {
  readonly subject: string;
  readonly data: Uint8Array;
  header(name: string): string;
  /** Answers a request; false when the message was not a request or the answer could not be sent (logged). */
  respond(data: Uint8Array | string): boolean;
}

export type RequestFailure = 'timeout' | 'no-responders' | 'disconnected' | 'error';

/** Why a request got no answer: `code` decides what the caller does next. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: RequestFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface Subscription {
  unsubscribe(): void;
}

export interface Transport {
  /** Connected to the broker now. */
  readonly connected: boolean;
  /** The broker's max payload in bytes (an assumption of 1 MiB until connected). */
  readonly maxPayload: number;
  /** Calls `cb(true)` on (re)connect and `cb(false)` on disconnect. */
  onConnectionChange(cb: (up: boolean) => void): void;
  /** Connects, retrying until it works or stop() is called. */
  start(): Promise<void>;
  /** Sends a request and waits for one answer within `timeoutMs`; rejects with TransportError. */
  request(subject: string, payload: Uint8Array, headers: Record<string, string>, timeoutMs: number): Promise<Uint8Array>;
  /**
   * Publishes without waiting for an answer. `disconnected`: not connected now (try again once
   * connected); `refused`: the broker will never take it (too large, closing).
   */
  publish(subject: string, payload: Uint8Array, headers: Record<string, string>): 'sent' | 'disconnected' | 'refused';
  subscribe(subject: string, handler: (msg: Incoming) => void): Subscription;
  /** Resolves once the broker has seen everything published so far. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}
