import type * as http from 'node:http';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { lazy } from '../lib/lazy.js';
import type { AcceptInput } from './accept.js';
import type { ListenAddress } from '../config/listen.js';
import { listen } from './listen.js';
import { LINGER_MS, MAX_INPUT_BYTES } from './limits.js';
import { inputGrew } from '../message/large-input.js';

/** Loaded when the input starts: a node without `httpListener` does not carry Node's HTTP server. */
const httpLib = lazy<typeof http>('node:http');

export interface HttpInputDeps {
  readonly accept: AcceptInput;
  readonly logger: Logger;
  readonly maxBytes?: number;
  /** Checks the operator token of `Authorization: Bearer <token>`; undefined: none asked (-inputAuth=none). */
  readonly token: ((given: string) => boolean) | undefined;
}

/** The one path messages are posted to. */
export const MESSAGES_PATH = '/messages';
/** The content types of a message document. */
const DOCUMENT_TYPES = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/**
 * The HTTP input (`-httpListener host:port`): a POST (to any path) whose body is a message
 * document, JSON or YAML, as on the socket. Answers with the per-message results as a JSON
 * array: 202 when at least one message was accepted, 400 when none was; 405 for other methods,
 * 413 beyond the input cap. There are no other endpoints.
 */
export class HttpInput {
  private server: http.Server | undefined;
  /** The bound address, `host:port`, once started. */
  address = '';

  constructor(
    private readonly addr: ListenAddress,
    private readonly deps: HttpInputDeps,
  ) {}

  async start(): Promise<void> {
    const server = httpLib().createServer((req, res) => this.serve(req, res));
    this.address = await listen(server, 'httpListener', this.addr);
    server.on('error', (err) => this.deps.logger.error({ err: err.message }, 'http input error'));
    server.on('clientError', (err: Error & { code?: string; reason?: string }, socket: Duplex) => this.clientError(err, socket));
    this.server = server;
    this.deps.logger.info({ address: this.address }, 'http input listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * A request Node's parser cannot read (bad bytes, headers too large, a timeout). Node's own
   * handling writes a bare 400 at once, even on a connection that already got its early answer
   * and `connection: close`, and even before the answers of good requests pipelined ahead of
   * the bad bytes. Here nothing follows an early answer, and the error answer (JSON, as every
   * answer) waits for the answers still due on the connection, then the connection closes.
   */
  private clientError(err: Error & { code?: string; reason?: string }, socket: Duplex): void {
    if (lingering.has(socket)) return; // answered and closing: what else comes is dropped
    lingering.add(socket);
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const reason = err.reason ?? err.message.replace(/^Parse Error: /, '');
    this.deps.logger.warn({ code: err.code, reason }, 'malformed http request, refused');
    const answer = (): void => {
      // Nothing of the request can be read any more, so our side closes at once; the client's
      // bytes are still read and dropped until it closes too (no reset under its upload).
      writeClosingAnswer(socket, status, [{ status: 'error', index: 0, error: `malformed HTTP request: ${reason}` }], {}, false);
      lingerThenClose(socket);
      socket.end();
    };
    // Requests read whole before the bad bytes get their answers first; a request whose body
    // broke off is never answered on its own (the error answer is its answer).
    const due = [...(liveRequests.get(socket) ?? [])].filter((x) => x.req.complete && !x.res.closed);
    if (due.length === 0) answer();
    else void Promise.all(due.map((x) => once(x.res, 'close'))).then(answer);
  }

  /**
   * Why a POST is refused before its body is read: another path, a page of another site (a
   * browser sends its Origin: a cross-site form or fetch must not command the fleet), no operator
   * token, or a body that is not a message document.
   */
  private refusal(
    req: http.IncomingMessage,
  ): { status: 401 | 403 | 404 | 415; error: string; headers?: Record<string, string> } | undefined {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== MESSAGES_PATH)
      return { status: 404, error: `no such path ${url.pathname.slice(0, 200)}: POST messages to ${MESSAGES_PATH}` };
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}` && origin !== `https://${req.headers.host ?? ''}`) {
      return { status: 403, error: `cross-site request refused (Origin ${origin.slice(0, 200)})` };
    }
    const token = this.deps.token;
    if (token !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      if (m === null || !token(m[1] as string)) {
        return {
          status: 401,
          error: 'unauthenticated: give the operator token (steward token) as Authorization: Bearer <token>; nothing was accepted',
          headers: { 'www-authenticate': 'Bearer' },
        };
      }
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!DOCUMENT_TYPES.includes(type)) {
      return {
        status: 415,
        error: `content type ${JSON.stringify(type.slice(0, 100))} is not a message document: use application/json or application/yaml`,
      };
    }
    return undefined;
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const live = liveRequests.get(req.socket) ?? new Set<Exchange>();
    liveRequests.set(req.socket, live);
    const exchange = { req, res };
    live.add(exchange);
    res.once('close', () => live.delete(exchange));
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body) + '\n');
    };
    req.on('error', (err) => this.deps.logger.debug({ err: err.message }, 'http input request error'));
    if (lingering.has(req.socket)) {
      // Pipelined after an early answer that closes the connection: not handled (the client
      // sends it again on a new connection), only read and dropped.
      req.resume();
      return;
    }
    if (req.method !== 'POST') {
      answerEarly(
        req,
        res,
        405,
        [{ status: 'error', index: 0, error: `method ${req.method ?? ''} not allowed: POST a message document (JSON or YAML)` }],
        { allow: 'POST' },
      );
      return;
    }
    const refusal = this.refusal(req);
    if (refusal !== undefined) {
      this.deps.logger.warn({ status: refusal.status, remote: req.socket.remoteAddress }, `http input refused: ${refusal.error}`);
      answerEarly(req, res, refusal.status, [{ status: 'error', index: 0, error: refusal.error }], refusal.headers ?? {});
      return;
    }
    const max = this.deps.maxBytes ?? MAX_INPUT_BYTES;
    const tooLarge = (): void => {
      this.deps.logger.warn('http input too large, refused');
      answerEarly(req, res, 413, [{ status: 'error', index: 0, error: `input larger than ${max} bytes: split it into several requests` }]);
    };
    if (Number(req.headers['content-length'] ?? 0) > max) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (b: Buffer) => {
      if (refused) return;
      size += b.length;
      if (size > max) {
        refused = true;
        chunks.length = 0;
        tooLarge();
        return;
      }
      chunks.push(b);
      inputGrew(size, b.length);
    });
    req.on('end', () => {
      if (refused) return;
      const bytes = Buffer.concat(chunks, size);
      chunks.length = 0;
      this.deps.accept(bytes).then(
        (results) => {
          const accepted = results.filter((r) => r.status === 'accepted').length;
          this.deps.logger.info({ accepted, rejected: results.length - accepted, bytes: bytes.length }, 'input handled');
          for (const r of results) if (r.status === 'error') this.deps.logger.warn({ index: r.index }, r.error);
          send(accepted > 0 ? 202 : 400, results);
        },
        (err: unknown) => send(500, [{ status: 'error', index: 0, error: `input failed: ${(err as Error).message}` }]),
      );
    });
  }
}

/**
 * Answers (405, 413) before the body has been read, while the client may still be sending it.
 * Closing at once would cut the upload with a reset, and most clients then report the reset,
 * not the answer; Node's own response handling stops reading such a request once its answer is
 * out. So the answer is written on the connection directly, and the rest of the body is read
 * and dropped (a lingering close) until the client has sent it all or hangs up, for LINGER_MS
 * at most.
 */
function answerEarly(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: 401 | 403 | 404 | 405 | 413 | 415,
  lines: object[],
  headers: Record<string, string> = {},
): void {
  const socket = req.socket;
  lingering.add(socket);
  if (res.socket === null) {
    // Pipelined behind a response still being written: answered in turn, by Node.
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json', connection: 'close', ...headers });
    res.end(JSON.stringify(lines) + '\n');
    return;
  }
  writeClosingAnswer(socket, status, lines, headers, req.method === 'HEAD');
  lingerThenClose(socket);
  socket.once('end', () => socket.end());
  if (req.complete) socket.end();
  else {
    req.once('end', () => socket.end());
    req.resume();
  }
}

/** Writes an answer with `connection: close` on the connection itself, past Node's response object. */
function writeClosingAnswer(socket: Duplex, status: number, lines: object[], headers: Record<string, string>, headOnly: boolean): void {
  const body = JSON.stringify(lines) + '\n';
  const head = [
    `HTTP/1.1 ${status} ${httpLib().STATUS_CODES[status] ?? ''}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ].join('\r\n');
  socket.write(`${head}\r\n\r\n${headOnly ? '' : body}`);
}

/** LINGER_MS is the limit in any case: a client that never closes its side is cut then. */
function lingerThenClose(socket: Duplex): void {
  const linger = setTimeout(() => socket.destroy(), LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
  socket.resume();
}

/** A request and its response, from the request's headers until the response is closed. */
interface Exchange {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
}

/** Per connection: the requests not answered yet. */
const liveRequests = new WeakMap<object, Set<Exchange>>();

/** Connections that got an early answer: closing, what else comes on them is dropped. */
const lingering = new WeakSet<object>();
