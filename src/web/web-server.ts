import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Logger } from 'pino';
import { gzipSync } from 'node:zlib';
import type { Api } from './api.js';
import { serveDataFolder, DATA_CSP } from './data-folder.js';
import type { EventHub } from './events.js';
import { callerOf, cookieOf, crossSite, mediaType, readBody, securityHeaders, sendJson, sessionCookie, sourceOf } from './http-util.js';
import { loginPage } from './login-page.js';
import { SESSION_MS, type Sessions } from './sessions.js';

export interface ConsoleServerDeps {
  readonly sessions: Sessions;
  readonly api: Api;
  readonly events: EventHub;
  readonly cookieName: string;
  readonly nodeName: string;
  readonly audit: { event(kind: string, fields: Record<string, string>): void };
  readonly logger: Logger;
  /** The built front end: index.html, app.js, app.css (dist/web/assets). */
  readonly assetsDir: string;
  readonly secure: boolean;
}

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly etag: string;
}

const ASSET_TYPES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/**
 * The console's HTTP handler (webListener): the login page, the built front end, the JSON API
 * and its events. Every API request needs a session (cookie) or the operator token (Bearer),
 * else 401 and no data; a request that changes something also needs the session's CSRF token
 * and must come from the console's own pages (not another site).
 */
export class ConsoleServer {
  private readonly assets = new Map<string, Asset>();

  constructor(private readonly d: ConsoleServerDeps) {
    for (const [name, type] of Object.entries(ASSET_TYPES)) {
      const file = path.join(d.assetsDir, name);
      if (!fs.existsSync(file)) continue;
      const body = fs.readFileSync(file);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      this.assets.set(name, { type, body, gzip: gzipSync(body, { level: 9 }), etag });
    }
  }

  /** Loads the assets, or says what is missing (a console built without `npm run build`). */
  static assetsMissing(dir: string): string | undefined {
    const missing = Object.keys(ASSET_TYPES).filter((n) => !fs.existsSync(path.join(dir, n)));
    return missing.length === 0 ? undefined : `the web console is not built (${missing.join(', ')} missing in ${dir}): run npm run build`;
  }

  readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    securityHeaders(res);
    this.route(req, res).catch((err: unknown) => {
      this.d.logger.error({ err: (err as Error).message }, 'web console request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname;
    if (p === '/login') return this.login(req, res);
    if (p === '/favicon.ico') return void res.writeHead(204).end();
    if (p.startsWith('/assets/')) return this.asset(req, res, p.slice('/assets/'.length));
    if (p === '/logout' && req.method === 'POST') return this.logout(req, res);
    if (p === '/' || p === '/index.html') {
      if (callerOf(req, this.d.sessions, this.d.cookieName) === undefined) return redirect(res, '/login');
      return this.asset(req, res, 'index.html');
    }
    if (!p.startsWith('/api/')) return sendJson(res, 404, { error: 'not found' });
    const caller = callerOf(req, this.d.sessions, this.d.cookieName);
    if (caller === undefined) {
      return sendJson(
        res,
        401,
        { error: 'log in first (or give the operator token as Authorization: Bearer)' },
        { 'www-authenticate': 'Bearer' },
      );
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const cross = crossSite(req, this.d.secure);
      if (cross !== undefined) return sendJson(res, 403, { error: `cross-site request refused (${cross})` });
      if (caller.kind === 'session' && !this.d.sessions.csrfMatches(caller.session, header(req, 'x-csrf-token'))) {
        return sendJson(res, 403, { error: 'missing or wrong CSRF token (x-csrf-token)' });
      }
    }
    if (caller.kind === 'session' && p === '/api/session') {
      res.setHeader('set-cookie', this.cookie(this.d.sessions.cookieValue(caller.session)));
    }
    if (p === '/api/events') return this.d.events.serve(req, res);
    return this.d.api.serve(req, res, url, caller);
  }

  private async login(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method === 'GET' || req.method === 'HEAD') return this.page(res, 200, loginPage(this.d.nodeName));
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'GET or POST' });
    const json = mediaType(req) === 'application/json';
    const cross = crossSite(req, this.d.secure);
    if (cross !== undefined) return sendJson(res, 403, { error: `cross-site login refused (${cross})` });
    const body = await readBody(req, 4096);
    let token = '';
    if (body !== undefined) {
      if (json) {
        try {
          const given = (JSON.parse(body.toString('utf8')) as { token?: unknown }).token;
          token = typeof given === 'string' ? given : '';
        } catch {
          token = '';
        }
      } else token = new URLSearchParams(body.toString('utf8')).get('token') ?? '';
    }
    const from = sourceOf(req);
    const r = this.d.sessions.login(token.trim(), from);
    this.d.audit.event('web-login', { from, ok: String(r.ok), ...(r.ok || !r.limited ? {} : { limited: 'true' }) });
    if (!r.ok) {
      this.d.logger.warn({ from, limited: r.limited }, 'web console login refused');
      const why = r.limited ? 'Too many wrong tokens from your address: wait a minute.' : 'Wrong token.';
      const status = r.limited ? 429 : 401;
      return json ? sendJson(res, status, { error: why }) : this.page(res, status, loginPage(this.d.nodeName, why));
    }
    this.d.logger.info({ from }, 'web console login');
    res.setHeader('set-cookie', this.cookie(r.cookie));
    if (json) return sendJson(res, 200, { ok: true, csrf: r.session.csrf });
    redirect(res, '/');
  }

  private logout(req: http.IncomingMessage, res: http.ServerResponse): void {
    const cross = crossSite(req, this.d.secure);
    if (cross !== undefined) return sendJson(res, 403, { error: `cross-site request refused (${cross})` });
    const s = this.d.sessions.check(cookieOf(req, this.d.cookieName));
    if (s !== undefined) this.d.sessions.logout(s);
    res.setHeader('set-cookie', sessionCookie(this.d.cookieName, '', 0, this.d.secure));
    redirect(res, '/login');
  }

  private cookie(value: string): string {
    return sessionCookie(this.d.cookieName, value, SESSION_MS / 1000, this.d.secure);
  }

  private page(res: http.ServerResponse, status: number, html: string): void {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  }

  private asset(req: http.IncomingMessage, res: http.ServerResponse, name: string): void {
    const a = this.assets.get(name);
    if (a === undefined) return sendJson(res, 404, { error: 'no such asset' });
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304, { etag: a.etag });
      res.end();
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? a.gzip : a.body;
    res.writeHead(200, {
      'content-type': a.type,
      'content-length': String(body.length),
      'cache-control': 'no-cache',
      etag: a.etag,
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

/**
 * The handler of exposeDataFolder: the data folder read-only, behind the console's login (its
 * session cookie: cookies are per host, not per port) or the operator token as Bearer.
 */
export function dataFolderHandler(d: {
  readonly sessions: Sessions;
  readonly cookieName: string;
  readonly dataFolder: string;
  readonly logger: Logger;
}): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    securityHeaders(res);
    res.setHeader('content-security-policy', DATA_CSP);
    if (callerOf(req, d.sessions, d.cookieName) === undefined) {
      sendJson(
        res,
        401,
        { error: 'log in to the web console first, or give the operator token as Authorization: Bearer' },
        { 'www-authenticate': 'Bearer' },
      );
      return;
    }
    fs.promises
      .realpath(d.dataFolder)
      .then((root) => serveDataFolder(req, res, root))
      .catch(() => sendJson(res, 404, { error: 'the data folder does not exist yet' }));
  };
}

function redirect(res: http.ServerResponse, location: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store' });
  res.end();
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
