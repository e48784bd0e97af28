/**
 * What other nodes may cost this one, per origin node, checked when a message arrives (before it
 * is stored): error lines (an honest node sends at most 100 a second, see ErrorReporter), hellos
 * (one a second per node is plenty), and new node names heard from. The excess is refused and
 * counted; one summary line per node and interval says how much.
 */
export interface OriginLimitsOptions {
  readonly errorLinesPerSecond: number;
  /**
   * Summary lines (a sender's count of the reports it held back) per SUMMARY_WINDOW_MS, apart
   * from the error lines: an honest sender writes one a second at most, and its count must not
   * be refused with the flood it sums up.
   */
  readonly summaryLinesPerWindow: number;
  readonly helloPerSecond: number;
  readonly newNamesPerMinute: number;
  /** Reports a summary line (to central's error log). */
  readonly summarize: (text: string) => void;
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
  dropped: number;
}

/** How often the excess is summed up in one line per node. */
const SUMMARY_MS = 10_000;
/** The window of summaryLinesPerWindow: so many at once, refilled over this time. */
export const SUMMARY_WINDOW_MS = 10_000;
/** Buckets kept at most (one per node name): a flood of names cannot grow the map without bound. */
const MAX_BUCKETS = 10_000;

export class OriginLimits {
  private readonly buckets = new Map<string, Bucket>();
  private readonly names: Bucket = { tokens: 0, at: 0, dropped: 0 };
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly o: OriginLimitsOptions) {
    this.now = o.now ?? Date.now;
    this.names.tokens = o.newNamesPerMinute;
    this.names.at = this.now();
  }

  /** An error line from `node`: within its rate? */
  errorLine(node: string): boolean {
    return this.take(`error ${node}`, this.o.errorLinesPerSecond, 1000);
  }

  /** A summary line from `node` (see ErrorReporter's SUMMARY_ARG): within its own allowance? */
  summaryLine(node: string): boolean {
    return this.take(`summary ${node}`, this.o.summaryLinesPerWindow, SUMMARY_WINDOW_MS);
  }

  /** A hello from `node`: within its rate? */
  hello(node: string): boolean {
    return this.take(`hello ${node}`, this.o.helloPerSecond, 1000);
  }

  /** A node name never heard from before: within the rate of new names? */
  newName(): boolean {
    return this.refill(this.names, this.o.newNamesPerMinute, 60_000);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private take(key: string, perInterval: number, intervalMs: number): boolean {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear();
      b = { tokens: perInterval, at: this.now(), dropped: 0 };
      this.buckets.set(key, b);
    }
    return this.refill(b, perInterval, intervalMs, key);
  }

  private refill(b: Bucket, perInterval: number, intervalMs: number, key?: string): boolean {
    const now = this.now();
    b.tokens = Math.min(perInterval, b.tokens + ((now - b.at) / intervalMs) * perInterval);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens--;
      return true;
    }
    b.dropped++;
    if (key !== undefined) this.timer ??= setTimeout(() => this.flush(), SUMMARY_MS).unref();
    return false;
  }

  private flush(): void {
    this.timer = undefined;
    for (const [key, b] of this.buckets) {
      if (b.dropped === 0) continue;
      const [what, node] = key.split(' ');
      const [kind, limit] =
        what === 'error'
          ? ['error lines', `over ${this.o.errorLinesPerSecond} error lines a second`]
          : what === 'summary'
            ? ['summary lines', `over ${this.o.summaryLinesPerWindow} summary lines in ${SUMMARY_WINDOW_MS / 1000} s`]
            : ['hellos', `over ${this.o.helloPerSecond} hellos a second`];
      this.o.summarize(`error: ${b.dropped} ${kind} from ${node} were refused in the last ${SUMMARY_MS / 1000} s (${limit})`);
      b.dropped = 0;
    }
  }
}
