import net from 'node:net';
import tls from 'node:tls';
import type { ListenAddress } from '../config/listen.js';
import { listen } from './listen.js';
import { serveConnection, type StreamInputDeps } from './stream.js';

export interface TcpInputOptions {
  /** TLS: the listener's certificate and key, and the CA of the client certificates it takes instead of the token. */
  readonly tls?: { cert: string; key: string; clientCa?: string } | undefined;
  /** The operator token each connection sends as its first line; undefined: none asked (-inputAuth=none). */
  readonly token: ((line: string) => boolean) | undefined;
}

/**
 * The TCP input (`-tcpListener host:port`): the socket's framing over TCP. The client sends the
 * operator token as its first line (`(steward token; cat msg.json) | nc -N host port`), then a
 * message document, and half-closes; the node answers one JSON line per message. With a TLS
 * listener and a client CA, a verified client certificate takes the token's place. No operator
 * requests here: unlike the socket (mode 0600), a TCP port is open to whoever can reach it.
 */
export class TcpInput {
  private server: net.Server | undefined;
  /** The bound address, `host:port`, once started. */
  address = '';

  constructor(
    private readonly addr: ListenAddress,
    private readonly deps: Omit<StreamInputDeps, 'control' | 'firstLine'>,
    private readonly o: TcpInputOptions,
  ) {}

  async start(): Promise<void> {
    const t = this.o.tls;
    const byCertificate = t?.clientCa !== undefined;
    const deps: StreamInputDeps = byCertificate || this.o.token === undefined ? this.deps : { ...this.deps, firstLine: this.o.token };
    const server =
      t === undefined
        ? net.createServer({ allowHalfOpen: true }, (conn) => serveConnection(conn, deps))
        : tls.createServer(
            {
              cert: t.cert,
              key: t.key,
              allowHalfOpen: true,
              ...(byCertificate ? { ca: t.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
            },
            (conn) => serveConnection(conn, deps),
          );
    this.address = await listen(server, 'tcpListener', this.addr);
    server.on('error', (err: Error) => this.deps.logger.error({ err: err.message }, 'tcp input error'));
    server.on('tlsClientError', (err: Error) => this.deps.logger.warn({ err: err.message }, 'tcp input: a TLS client was refused'));
    this.server = server;
    this.deps.logger.info(
      {
        address: this.address,
        tls: t !== undefined,
        auth: byCertificate ? 'client certificate' : this.o.token === undefined ? 'none' : 'token',
      },
      'tcp input listening',
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
