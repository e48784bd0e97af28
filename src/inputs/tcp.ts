import net from 'node:net';
import type { ListenAddress } from '../config/listen.js';
import { listen } from './listen.js';
import { serveConnection, type StreamInputDeps } from './stream.js';

/**
 * The TCP input (`-tcpListener host:port`): the socket's framing over TCP. The client sends a
 * message document and half-closes; the node answers one JSON line per message. No operator
 * requests here: unlike the socket (mode 0600), a TCP port is open to whoever can reach it.
 */
export class TcpInput {
  private server: net.Server | undefined;
  /** The bound address, `host:port`, once started. */
  address = '';

  constructor(
    private readonly addr: ListenAddress,
    private readonly deps: Omit<StreamInputDeps, 'control'>,
  ) {}

  async start(): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true }, (conn) => serveConnection(conn, this.deps));
    this.address = await listen(server, 'tcpListener', this.addr);
    server.on('error', (err) => this.deps.logger.error({ err: err.message }, 'tcp input error'));
    this.server = server;
    this.deps.logger.info({ address: this.address }, 'tcp input listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
