import http from 'node:http';
import { Session } from 'node:inspector/promises';
import type { Logger } from 'pino';
import type { ListenAddress } from '../config/listen.js';
import { bearerOf } from '../lib/bearer.js';
import { closeServer } from '../lib/close-server.js';

export interface ProfilingDeps {
  /** Checks the operator token of `Authorization: Bearer <token>` (always asked: a heap snapshot holds the node's secrets). */
  readonly token: (given: string) => boolean;
  readonly nodeName: string;
  readonly logger: Logger;
}

/** The two endpoints; anything else is 404 (after the token: nothing is told to a client without it). */
export const CPU_PATH = '/debug/cpu';
export const HEAP_PATH = '/debug/heap';

/** `seconds` of a CPU profile: at least 1, at most 300, 10 when not given. */
export const CPU_SECONDS = { min: 1, max: 300, default: 10 } as const;
/** `interval` between CPU samples in microseconds: V8's default is 1000. */
export const CPU_INTERVAL_US = { min: 50, max: 100_000, default: 1000 } as const;

/**
 * The profiling listener (`-profilingPort`): a V8 CPU profile of this node's main thread over
 * `GET /debug/cpu?seconds=N` (a `.cpuprofile`: Chrome DevTools and speedscope open it) and a heap
 * snapshot over `GET /debug/heap` (a `.heapsnapshot`), both taken through an inspector session
 * in this process (node:inspector, no debugger port is opened). Every request needs the operator
 * token (401 otherwise); one profile runs at a time (409 for another). Loaded only when the flag
 * is set.
 */
export class ProfilingServer {
  private server: http.Server | undefined;
  /** What runs now, if anything: stop() ends it. */
  private running: AbortController | undefined;
  /** The bound address, `host:port`, once started. */
  address = '';

  constructor(
    private readonly addr: ListenAddress,
    private readonly deps: ProfilingDeps,
  ) {}

  /** Opens the listener. Rejects (with the address and the reason) when it cannot. */
  async start(): Promise<string> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    server.maxConnections = 16;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.message;
        reject(new Error(`-profilingPort ${this.addr.host}:${this.addr.port}: cannot listen: ${why}`));
      };
      server.once('error', fail);
      server.listen(this.addr.port, this.addr.host, () => {
        server.off('error', fail);
        resolve();
      });
    });
    server.on('error', (err) => this.deps.logger.error({ err: err.message }, 'profiling listener error'));
    this.server = server;
    const a = server.address();
    this.address = a !== null && typeof a === 'object' ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : String(a);
    this.deps.logger.info({ address: this.address }, `profiling listening on ${CPU_PATH} and ${HEAP_PATH} (operator token required)`);
    return this.address;
  }

  /** Ends a profile being taken (its client gets nothing) and closes the listener; safe to call twice. */
  async stop(): Promise<void> {
    this.running?.abort();
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    await closeServer(server);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const given = bearerOf(req);
    if (given === undefined || !this.deps.token(given)) {
      this.deps.logger.warn({ remote: req.socket.remoteAddress }, 'profiling request without the operator token, refused');
      return text(res, 401, 'unauthenticated: give the operator token (steward token) as Authorization: Bearer <token>\n', {
        'www-authenticate': 'Bearer',
      });
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return text(res, 400, 'bad request target\n');
    }
    if (url.pathname !== CPU_PATH && url.pathname !== HEAP_PATH) {
      return text(res, 404, `not found: this port serves ${CPU_PATH}?seconds=N and ${HEAP_PATH} only\n`);
    }
    if (req.method !== 'GET') return text(res, 405, 'method not allowed: use GET\n', { allow: 'GET' });
    let cpu: { seconds: number; intervalUs: number } | undefined;
    if (url.pathname === CPU_PATH) {
      const seconds = intParam(url, 'seconds', CPU_SECONDS);
      const intervalUs = intParam(url, 'interval', CPU_INTERVAL_US);
      if (typeof seconds === 'string') return text(res, 400, seconds);
      if (typeof intervalUs === 'string') return text(res, 400, intervalUs);
      cpu = { seconds, intervalUs };
    }
    if (this.running !== undefined) return text(res, 409, 'a profile is being taken: one at a time, try again when it is done\n');
    const running = new AbortController();
    this.running = running;
    // A client that goes away ends its profile: the next one need not wait for it.
    res.once('close', () => running.abort());
    const session = new Session();
    session.connect();
    try {
      if (cpu !== undefined) await this.cpuProfile(session, res, cpu, running.signal);
      else await this.heapSnapshot(session, res);
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message }, 'profiling failed');
      if (!res.headersSent) text(res, 500, `profiling failed: ${(err as Error).message}\n`);
      else res.destroy();
    } finally {
      session.disconnect();
      if (this.running === running) this.running = undefined;
    }
  }

  /** Samples the main thread for `seconds`, then answers the profile (nothing when aborted meanwhile). */
  private async cpuProfile(
    session: Session,
    res: http.ServerResponse,
    o: { seconds: number; intervalUs: number },
    signal: AbortSignal,
  ): Promise<void> {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: o.intervalUs });
    await session.post('Profiler.start');
    const t0 = Date.now();
    this.deps.logger.info({ seconds: o.seconds, intervalUs: o.intervalUs }, 'cpu profile started');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, o.seconds * 1000);
      signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
    const { profile } = await session.post('Profiler.stop');
    await session.post('Profiler.disable');
    if (signal.aborted) return;
    const body = JSON.stringify(profile);
    this.deps.logger.info(
      { seconds: (Date.now() - t0) / 1000, bytes: body.length, samples: profile.samples?.length ?? 0 },
      'cpu profile taken',
    );
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'content-disposition': `attachment; filename="${this.fileName('cpuprofile')}"`,
    });
    res.end(body);
  }

  /**
   * Writes a heap snapshot to the response chunk by chunk as V8 hands them out. V8 takes it in
   * one go on the main thread: the node does nothing else meanwhile (0.7 s for an idle node on a
   * 2-vCPU VM), and the chunks wait in the response's buffer until they are sent.
   */
  private async heapSnapshot(session: Session, res: http.ServerResponse): Promise<void> {
    const t0 = Date.now();
    let bytes = 0;
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-disposition': `attachment; filename="${this.fileName('heapsnapshot')}"`,
    });
    const onChunk = (m: { params: { chunk: string } }): void => {
      bytes += m.params.chunk.length;
      res.write(m.params.chunk);
    };
    session.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
    try {
      await session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    } finally {
      session.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
    }
    res.end();
    this.deps.logger.info({ seconds: (Date.now() - t0) / 1000, bytes }, 'heap snapshot taken');
  }

  private fileName(ext: string): string {
    return `${this.deps.nodeName}-${new Date().toISOString().replace(/[:.]/g, '-')}.${ext}`;
  }
}

/** An integer query parameter within its bounds, its default when absent, or the text of a 400. */
function intParam(url: URL, name: string, b: { min: number; max: number; default: number }): number | string {
  const v = url.searchParams.get(name);
  if (v === null) return b.default;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < b.min || n > b.max) return `${name}=${v.slice(0, 50)}: give a whole number from ${b.min} to ${b.max}\n`;
  return n;
}

function text(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
