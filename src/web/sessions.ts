import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { tokenMatches } from '../config/token.js';

/** How long a session lives without a request (sliding). */
export const SESSION_MS = 12 * 3600_000;
/** Failed logins per source address and minute before the next ones are refused unread. */
export const MAX_FAILURES_PER_MINUTE = 10;

export interface Session {
  readonly id: string;
  /** Sent back in `x-csrf-token` with every state-changing request. */
  readonly csrf: string;
  expiresMs: number;
}

export type LoginOutcome = { ok: true; session: Session; cookie: string } | { ok: false; limited: boolean };

/**
 * The console's sessions, made by a login with the operator token. A session id is 32 random
 * bytes; the cookie carries it with its expiry and a MAC under a key derived from the token. The
 * sessions live in memory, and a cookie whose MAC holds is taken back after a restart of the
 * daemon (the console reconnects by itself): changing the token ends every session. A logout is
 * remembered in memory only, until the cookie would have expired.
 */
export class Sessions {
  private readonly live = new Map<string, Session>();
  private readonly loggedOut = new Map<string, number>();
  private readonly failures = new Map<string, number[]>();
  private readonly key: Buffer;
  private readonly now: () => number;

  constructor(
    private readonly token: string,
    opts: { now?: () => number } = {},
  ) {
    this.key = Buffer.from(hkdfSync('sha256', token, 'steward', 'web console sessions', 32));
    this.now = opts.now ?? Date.now;
  }

  /** Checks a login's token (in constant time), at most MAX_FAILURES_PER_MINUTE failures a minute per address. */
  login(given: string, from: string): LoginOutcome {
    const verdict = this.tokenFrom(given, from);
    if (verdict !== 'ok') return { ok: false, limited: verdict === 'limited' };
    const session = this.make(randomBytes(32).toString('base64url'), this.now() + SESSION_MS);
    return { ok: true, session, cookie: this.cookieValue(session) };
  }

  /**
   * Whether `given` is the operator token, sent by `from` (a login's field, or Authorization:
   * Bearer): wrong tokens from one address count against the same limit either way, so guessing
   * through the API is no faster than through the login page.
   */
  tokenFrom(given: string, from: string): 'ok' | 'wrong' | 'limited' {
    const now = this.now();
    const recent = (this.failures.get(from) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= MAX_FAILURES_PER_MINUTE) {
      this.failures.set(from, recent);
      return 'limited';
    }
    if (!tokenMatches(this.token, given)) {
      recent.push(now);
      this.failures.set(from, recent);
      if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value as string);
      return 'wrong';
    }
    this.failures.delete(from);
    return 'ok';
  }

  /** The session of a cookie value, its expiry moved on (sliding); undefined when none or expired. */
  check(cookie: string | undefined): Session | undefined {
    if (cookie === undefined) return undefined;
    const m = /^([A-Za-z0-9_-]{43})\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(cookie);
    if (m === null) return undefined;
    const [, id, exp, mac] = m as unknown as [string, string, string, string];
    const now = this.now();
    if (!this.macMatches(`${id}.${exp}`, mac) || this.loggedOut.has(id)) return undefined;
    let s = this.live.get(id);
    // After a restart: the cookie's own expiry, proven by its MAC.
    s ??= Number(exp) > now ? this.make(id, Number(exp)) : undefined;
    if (s === undefined || s.expiresMs <= now) {
      if (s !== undefined) this.live.delete(id);
      return undefined;
    }
    s.expiresMs = now + SESSION_MS;
    return s;
  }

  /** A fresh cookie value for a session (its expiry moved on). */
  cookieValue(s: Session): string {
    const body = `${s.id}.${s.expiresMs}`;
    return `${body}.${this.mac(body)}`;
  }

  logout(s: Session): void {
    this.live.delete(s.id);
    this.loggedOut.set(s.id, s.expiresMs);
    const now = this.now();
    for (const [id, until] of this.loggedOut) if (until <= now) this.loggedOut.delete(id);
  }

  /** Whether `given` is the session's CSRF token (in constant time). */
  csrfMatches(s: Session, given: string | undefined): boolean {
    return given !== undefined && tokenMatches(s.csrf, given);
  }

  private make(id: string, expiresMs: number): Session {
    const s: Session = { id, csrf: this.mac(`csrf.${id}`), expiresMs };
    this.live.set(id, s);
    for (const [k, v] of this.live) if (v.expiresMs <= this.now()) this.live.delete(k);
    return s;
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  private macMatches(text: string, mac: string): boolean {
    const a = Buffer.from(this.mac(text));
    const b = Buffer.from(mac);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
