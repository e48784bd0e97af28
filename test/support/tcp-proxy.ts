import net from 'node:net';

/**
 * A TCP proxy on a kernel-picked loopback port in front of `127.0.0.1:<targetPort>`, to cut a
 * link while both ends stay up, and to count the bytes that really cross it. The target may be
 * set after start, for a server whose config must name the proxy's port (e.g. to advertise it).
 */
export class TcpProxy {
  private readonly server: net.Server;
  private readonly open = new Set<net.Socket>();
  private isCut = false;
  /** Bytes from the connecting side to the target, and back, since start. */
  bytesUp = 0;
  bytesDown = 0;
  port = 0;

  private constructor(public targetPort: number) {
    this.server = net.createServer((client) => this.pipe(client));
  }

  static async start(targetPort = 0): Promise<TcpProxy> {
    const p = new TcpProxy(targetPort);
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

  private pipe(client: net.Socket): void {
    if (this.isCut || this.targetPort === 0) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.open.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (b: Buffer) => {
      this.bytesUp += b.length;
      upstream.write(b);
    });
    upstream.on('data', (b: Buffer) => {
      this.bytesDown += b.length;
      client.write(b);
    });
  }

  /** Drops every connection through the proxy and refuses new ones until restore(). */
  cut(): void {
    this.isCut = true;
    for (const s of this.open) s.destroy();
  }

  restore(): void {
    this.isCut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
