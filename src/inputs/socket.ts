import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { serveConnection, type StreamInputDeps } from './stream.js';

/** How long a stopping node lets a client finish its input and read its answer. */
const STOP_GRACE_MS = 2000;

/** The unix socket input at `<socketFolder>/steward.sock`. */
export class SocketInput {
  private server: net.Server | undefined;
  private readonly conns = new Set<net.Socket>();

  constructor(
    private readonly socketPath: string,
    private readonly deps: StreamInputDeps,
  ) {}

  async start(): Promise<void> {
    fs.mkdirSync(path.dirname(this.socketPath), { recursive: true, mode: 0o700 });
    if (fs.existsSync(this.socketPath)) {
      if (await isLive(this.socketPath)) {
        throw new Error(`another steward is already listening on ${this.socketPath}; stop it or start this one in another folder`);
      }
      fs.unlinkSync(this.socketPath); // stale, left by a crash
    }
    const server = net.createServer({ allowHalfOpen: true }, (conn) => {
      this.conns.add(conn);
      conn.once('close', () => this.conns.delete(conn));
      serveConnection(conn, this.deps);
    });
    server.on('error', (err) => this.deps.logger.error({ err: err.message }, 'socket input error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    fs.chmodSync(this.socketPath, 0o600);
    this.server = server;
    this.deps.logger.info({ path: this.socketPath }, 'socket input listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A client still sending or waiting for its answer gets it; after STOP_GRACE_MS it is cut.
    const cut = setTimeout(() => {
      for (const c of this.conns) c.destroy();
    }, STOP_GRACE_MS);
    await closed;
    clearTimeout(cut);
    fs.rmSync(this.socketPath, { force: true });
  }
}

function isLive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
