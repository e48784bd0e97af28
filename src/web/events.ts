import type http from 'node:http';
import type { JobEvent } from '../fleet/job-events.js';
import type { WatchEvent } from '../node/watch.js';
import { ErrorFollower, type ErrorLine } from './error-tail.js';

export interface EventsDeps {
  /** Every message event of the node (what `steward send` watches); returns the function that stops it. */
  readonly watchAll: (listener: (ev: WatchEvent) => void) => () => void;
  /** Listeners of every job's events. */
  readonly jobListeners: Set<(ev: JobEvent) => void>;
  readonly errorLogFile: string;
  /** Milliseconds between two writes to one client (events in between go together). */
  readonly flushMs?: number;
}

/** What the console hears live. */
export type ConsoleEvent = WatchEvent | JobEvent | { event: 'errorlog'; lines: ErrorLine[] } | { event: 'overflow'; dropped: number };

/** Events waiting for one client beyond this: dropped, and the client told to read its page again. */
const MAX_QUEUED = 5000;
/** Bytes written to a page and not yet taken by it, beyond which nothing more is written to it. */
const MAX_UNREAD_BYTES = 1024 * 1024;
/** The start of a reply's output sent live (the job's page reads the rest on demand). */
const LIVE_DATA = 2000;

interface Client {
  readonly res: http.ServerResponse;
  queue: ConsoleEvent[];
  dropped: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Server-Sent Events at /api/events: the node's message and job events, and the error log's new
 * lines, to every console page open. Events are written together at most every `flushMs`
 * (100 ms: ten writes a second), so a thousand events a second make ten messages, not a thousand;
 * a client that cannot keep up is told what it missed (`overflow`) instead of growing a queue.
 * `retry: 2000` makes the browser reconnect by itself, after a restart of the daemon too.
 */
export class EventHub {
  private readonly clients = new Set<Client>();
  private stopWatching: (() => void) | undefined;
  private follower: ErrorFollower | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly onJob = (ev: JobEvent): void => this.push(ev);

  constructor(private readonly d: EventsDeps) {}

  serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\nevent: ready\ndata: ${JSON.stringify({ now: Date.now() })}\n\n`);
    const client: Client = { res, queue: [], dropped: 0, timer: undefined };
    this.clients.add(client);
    if (this.clients.size === 1) this.subscribe();
    const gone = (): void => {
      if (client.timer !== undefined) clearTimeout(client.timer);
      this.clients.delete(client);
      if (this.clients.size === 0) this.unsubscribe();
    };
    req.once('close', gone);
    res.once('close', gone);
  }

  /** Ends every stream (the daemon stops; the pages reconnect to the next one). */
  stop(): void {
    for (const c of [...this.clients]) c.res.end();
    this.clients.clear();
    this.unsubscribe();
  }

  private subscribe(): void {
    this.stopWatching = this.d.watchAll((ev) =>
      this.push(ev.event === 'reply' && ev.data.length > LIVE_DATA ? { ...ev, data: ev.data.slice(0, LIVE_DATA) } : ev),
    );
    this.d.jobListeners.add(this.onJob);
    this.follower = new ErrorFollower(this.d.errorLogFile, (lines) => this.push({ event: 'errorlog', lines }));
    this.follower.start();
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) if (c.res.writableLength <= MAX_UNREAD_BYTES) c.res.write(': ping\n\n');
    }, 15_000);
    this.heartbeat.unref();
  }

  private unsubscribe(): void {
    this.stopWatching?.();
    this.stopWatching = undefined;
    this.d.jobListeners.delete(this.onJob);
    this.follower?.stop();
    this.follower = undefined;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private push(ev: ConsoleEvent): void {
    for (const c of this.clients) {
      if (c.queue.length >= MAX_QUEUED) {
        c.dropped += c.queue.length + 1;
        c.queue = [];
      } else c.queue.push(ev);
      c.timer ??= setTimeout(() => this.flush(c), this.d.flushMs ?? 100);
    }
  }

  private flush(c: Client): void {
    c.timer = undefined;
    if (!this.clients.has(c)) return;
    if (c.res.writableLength > MAX_UNREAD_BYTES) {
      // The page does not read what it was sent: its events wait in the queue (bounded, the
      // excess counted in an overflow event) instead of in the socket's buffer, unbounded.
      c.timer = setTimeout(() => this.flush(c), 1000);
      return;
    }
    const batch: ConsoleEvent[] = c.dropped > 0 ? [{ event: 'overflow', dropped: c.dropped }, ...c.queue] : c.queue;
    c.queue = [];
    c.dropped = 0;
    if (batch.length > 0) c.res.write(`data: ${JSON.stringify(batch)}\n\n`);
  }
}
