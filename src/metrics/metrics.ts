/**
 * What the node tells its metrics. Components get a `Metrics` in their deps and call it where
 * things happen; when metrics are off they get `NO_METRICS`, which does nothing, so no component
 * checks whether metrics are on. Nothing here imports prom-client (see `prometheus.ts`).
 */
export interface Metrics {
  /** Messages accepted from an input (committed to the outbox), after toNodes expansion. */
  accepted(count: number): void;
  /** A message to `toNode` was delivered: ACKed, or published for a fire-and-forget kind. */
  delivered(toNode: string): void;
  /** An attempt to deliver to `toNode` got no ACK, and another attempt follows. */
  retried(toNode: string): void;
  /** A message to `toNode` was given up: its budget spent, or rejected by the receiver. */
  failed(toNode: string, reason: 'max-retries' | 'rejected'): void;
  /** Time from sending a request to receiving its ACK, for ACKed deliveries over the broker. */
  ackRoundTrip(seconds: number): void;
  /** A new message was received for `method` (committed to the inbox ledger, not a re-sent copy). */
  received(method: string): void;
  /** A re-sent copy of a message already received was ACKed again and not run again. */
  duplicate(method: string): void;
  /** How long a method ran on this node (successful or not). */
  methodDuration(method: string, seconds: number): void;
  /** An error report (REQErrorLog) was queued for sending. */
  errorSent(): void;
  /**
   * Gives the metrics what they read from the store when scraped (queue depths, pending
   * outbox, hello last-seen per node): exact at scrape time, and no timer while nobody scrapes.
   */
  readGauges(read: () => GaugeReadings): void;
}

/** The state read when metrics are scraped. */
export interface GaugeReadings {
  /** Pending messages per destination node, and when the oldest of them was accepted. */
  readonly queues: readonly { node: string; pending: number; oldestMs: number }[];
  /** Nodes heard a hello from, with when they last were. */
  readonly helloNodes: readonly { name: string; lastSeenMs: number }[];
}

/** The metrics of a node that exports none: every call does nothing. */
export const NO_METRICS: Metrics = {
  accepted() {},
  delivered() {},
  retried() {},
  failed() {},
  ackRoundTrip() {},
  received() {},
  duplicate() {},
  methodDuration() {},
  errorSent() {},
  readGauges() {},
};
