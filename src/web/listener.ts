import type http from 'node:http';
import type https from 'node:https';
import type { Logger } from 'pino';
import type { ListenAddress } from '../config/listen.js';
import { closeServer } from '../lib/close-server.js';
import { lazy } from '../lib/lazy.js';
import { listen } from '../inputs/listen.js';

const httpLib = lazy<typeof http>('node:http');
const httpsLib = lazy<typeof https>('node:https');

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * An HTTP or HTTPS listener of the console (webListener, exposeDataFolder): started once,
 * stopped idempotently (open streams, such as the console's events, are closed).
 */
export class Listener {
  private server: http.Server | undefined;
  /** The bound address, `host:port`, once started. */
  address = '';

  constructor(
    private readonly o: {
      readonly flag: string;
      readonly addr: ListenAddress;
      readonly tls: { cert: string; key: string } | undefined;
      readonly handler: Handler;
      readonly logger: Logger;
      readonly what: string;
    },
  ) {}

  get secure(): boolean {
    return this.o.tls !== undefined;
  }

  async start(): Promise<void> {
    const handler: Handler = (req, res) => this.o.handler(req, res);
    const server: http.Server =
      this.o.tls === undefined ? httpLib().createServer(handler) : httpsLib().createServer({ ...this.o.tls }, handler);
    // Headers must come within 10 s, a whole request (its body) within 30 s: a client trickling
    // bytes cannot hold a connection open; a connection idle 60 s goes (the events stream writes
    // every 15 s, and requestTimeout does not bound a response).
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.timeout = 60_000;
    server.keepAliveTimeout = 5_000;
    this.address = await listen(server, this.o.flag, this.o.addr);
    server.on('error', (err) => this.o.logger.error({ err: err.message }, `${this.o.what} error`));
    this.server = server;
    this.o.logger.info({ address: this.address, tls: this.secure }, `${this.o.what} listening`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await closeServer(server);
  }
}
