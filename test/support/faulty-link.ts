import net from 'node:net';

/** One direction of a proxied connection: chunks wait here for their release time. */
class Lane {
  private readonly queue: { chunk: Buffer; atMs: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastAtMs = 0;

  constructor(
    private readonly to: net.Socket,
    private readonly link: FaultyLink,
    private readonly count: (n: number) => void,
  ) {}

  push(chunk: Buffer): void {
    // Order is kept: a chunk never overtakes the one before it, even when the delay shrinks.
    const atMs = Math.max(this.lastAtMs, Date.now() + this.link.delayMs);
    this.lastAtMs = atMs;
    this.queue.push({ chunk, atMs });
    this.pump();
  }

  /** Forwards what is due; called again when the link resumes. */
  pump(): void {
    if (this.timer !== undefined) return;
    while (this.queue.length > 0 && !this.link.stalled) {
      const head = this.queue[0] as { chunk: Buffer; atMs: number };
      const wait = head.atMs - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
        return;
      }
      this.queue.shift();
      this.count(head.chunk.length);
      if (!this.to.destroyed) this.to.write(head.chunk);
    }
  }

  /** After a stall, queued chunks leave with the delay counted from now. */
  restamp(): void {
    const now = Date.now();
    for (const q of this.queue) q.atMs = Math.max(q.atMs, now + this.link.delayMs);
    this.lastAtMs = Math.max(this.lastAtMs, now + this.link.delayMs);
  }

  drop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

/**
 * A TCP proxy on a kernel-picked loopback port in front of `127.0.0.1:<targetPort>` that can
 * misbehave the way a real link does: cut (every connection dropped, new ones refused), stall
 * (connections stay open, nothing crosses until resume, then everything that waited crosses
 * in order), or slow (each chunk delayed by `delayMs`, order kept). Unlike TcpProxy it keeps
 * its faults independent, so a slow link can also be cut.
 */
export class FaultyLink {
  private readonly server: net.Server;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket; lanes: Lane[] }>();
  private isCut = false;
  stalled = false;
  /** Added to every chunk in both directions. */
  delayMs = 0;
  bytesUp = 0;
  bytesDown = 0;
  port = 0;

  private constructor(public targetPort: number) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(targetPort: number): Promise<FaultyLink> {
    const p = new FaultyLink(targetPort);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, '127.0.0.1', () => resolve());
    });
    p.port = (p.server.address() as net.AddressInfo).port;
    return p;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Connections open through the link now. */
  get connections(): number {
    return this.pairs.size;
  }

  get cut(): boolean {
    return this.isCut;
  }

  private accept(client: net.Socket): void {
    if (this.isCut) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    const up = new Lane(upstream, this, (n) => (this.bytesUp += n));
    const down = new Lane(client, this, (n) => (this.bytesDown += n));
    const pair = { client, upstream, lanes: [up, down] };
    this.pairs.add(pair);
    const close = (): void => {
      this.pairs.delete(pair);
      up.drop();
      down.drop();
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      s.on('error', () => {});
      s.on('close', close);
    }
    client.on('data', (b: Buffer) => up.push(b));
    upstream.on('data', (b: Buffer) => down.push(b));
  }

  /** Drops every connection and refuses new ones until restore(). */
  cutLink(): void {
    this.isCut = true;
    for (const p of [...this.pairs]) {
      for (const l of p.lanes) l.drop();
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
  }

  restore(): void {
    this.isCut = false;
  }

  /** Holds all traffic (connections stay open, new ones are accepted and held too). */
  stall(): void {
    this.stalled = true;
  }

  resume(): void {
    this.stalled = false;
    for (const p of this.pairs)
      for (const l of p.lanes) {
        l.restamp();
        l.pump();
      }
  }

  /** Back to a healthy link: no cut, no stall, no delay. */
  heal(): void {
    this.delayMs = 0;
    this.restore();
    this.resume();
  }

  async close(): Promise<void> {
    this.cutLink();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
