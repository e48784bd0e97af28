import type http from 'node:http';
import { bearerOf } from '../lib/bearer.js';
import type { Session, Sessions } from './sessions.js';

/** The console's Content-Security-Policy: nothing inline, nothing from elsewhere. */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Headers of every answer of the console. */
export function securityHeaders(res: http.ServerResponse): void {
  res.setHeader('content-security-policy', CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  res.setHeader('cross-origin-resource-policy', 'same-origin');
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Who asks: a console session (cookie), or a client with the operator token (Bearer). */
export type Caller = { readonly kind: 'session'; readonly session: Session } | { readonly kind: 'bearer' };

/** The caller of a request, or undefined (401). */
export function callerOf(req: http.IncomingMessage, sessions: Sessions, cookieName: string): Caller | undefined {
  const bearer = bearerOf(req);
  if (bearer !== undefined) return sessions.tokenFrom(bearer, sourceOf(req)) === 'ok' ? { kind: 'bearer' } : undefined;
  const session = sessions.check(cookieOf(req, cookieName));
  return session === undefined ? undefined : { kind: 'session', session };
}

export function cookieOf(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie value of a session (HttpOnly, SameSite=Strict, Secure over HTTPS). */
export function sessionCookie(name: string, value: string, maxAgeS: number, secure: boolean): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}

/**
 * Why a request that changes something is refused as cross-site, or undefined: a browser tells
 * where a request comes from, and only this console's own pages may send one. Sec-Fetch-Site
 * when the browser sends it (the Origin of a form posted under `Referrer-Policy: no-referrer` is
 * "null"), else the Origin; clients that send neither (curl) are not browsers.
 */
export function crossSite(req: http.IncomingMessage, secure: boolean): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin' || site === 'none' ? undefined : `Sec-Fetch-Site: ${site.slice(0, 40)}`;
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `${secure ? 'https' : 'http'}://${req.headers.host ?? ''}`)
    return `Origin ${origin.slice(0, 200)}`;
  return undefined;
}

/** The source address of a request, for the audit log and the login limit. */
export function sourceOf(req: http.IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** Reads a request's body, at most `max` bytes (undefined beyond: the caller answers 413). */
export function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > max) over = true;
      else chunks.push(b);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The media type of a request's body, lower case, without parameters. */
export function mediaType(req: http.IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
