import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { NatsCase, TextCase } from './cases.js';
import type { Sealed } from '../../src/trust/proof.js';
import { stageOf, type WireProver } from './proofs.js';
import { Rng } from './rng.js';

/** What happened to one input, judged against what its path promises. */
export interface Outcome {
  /** The input got the answer its path promises (for the folder: decided at the end). */
  answered: boolean;
  /** No answer was promised (the client hung up early). */
  unpromised?: boolean;
  accepted: number;
  errors: number;
  /** Answer lines, HTTP status, ACK status: for the table. */
  label: string;
  /** A broken promise: no answer, a malformed answer, a wrong status. */
  violation?: string;
  /** Worth a look, not a broken promise. */
  note?: string;
  /** Index 0 was answered "accepted". */
  firstAccepted?: boolean;
}

interface InputLine {
  status?: unknown;
  index?: unknown;
  id?: unknown;
  error?: unknown;
}

/** Checks answer lines (socket, TCP) or the elements of an HTTP answer. */
export function judgeLines(items: unknown[], control: boolean): Pick<Outcome, 'accepted' | 'errors' | 'violation' | 'firstAccepted'> {
  let accepted = 0;
  let errors = 0;
  let firstAccepted = false;
  if (items.length === 0) return { accepted, errors, violation: 'no answer line' };
  if (control) return { accepted, errors };
  for (const it of items) {
    const l = it as InputLine;
    if (l === null || typeof l !== 'object')
      return { accepted, errors, violation: `answer is not an object: ${JSON.stringify(it).slice(0, 200)}` };
    if (typeof l.index !== 'number') return { accepted, errors, violation: `answer without index: ${JSON.stringify(l).slice(0, 200)}` };
    if (l.status === 'accepted' && typeof l.id === 'string') {
      accepted++;
      if (l.index === 0) firstAccepted = true;
    } else if (l.status === 'error' && typeof l.error === 'string' && l.error !== '') errors++;
    else return { accepted, errors, violation: `answer of unknown shape: ${JSON.stringify(l).slice(0, 200)}` };
  }
  return { accepted, errors, firstAccepted };
}

function parseLines(text: string): { items: unknown[]; bad?: string } {
  const items: unknown[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      items.push(JSON.parse(line));
    } catch {
      return { items, bad: `answer line is not JSON: ${JSON.stringify(line.slice(0, 200))}` };
    }
  }
  return { items };
}

/** A pause between two writes this long may let the node answer early (it answers 0.5 s after a complete-looking document). */
const STALL_MS = 400;

/** Sends a text input over a stream (unix socket or TCP) with the case's framing and reads the answer. */
/** What a TCP client sends as its first line for each kind of credential. */
export function tokenLine(c: TextCase, token: string): Buffer {
  const auth = c.auth ?? 'token';
  return Buffer.from(auth === 'token' ? `${token}\n` : auth === 'wrong' ? `${'0'.repeat(token.length)}\n` : '');
}

/**
 * Sends a text input over a stream (the unix socket, or TCP with `first`: the token line) and
 * judges the answer lines.
 */
export function sendStream(connect: () => net.Socket, c: TextCase, seed: number, timeoutMs: number, first?: Buffer): Promise<Outcome> {
  const rng = new Rng(seed, c.index, 7);
  const refusedAuth = first !== undefined && (c.auth ?? 'token') !== 'token';
  return new Promise((resolve) => {
    const conn = connect();
    let text = '';
    let settled = false;
    /** The longest pause between two writes of a chunked input (ms). */
    let stalledMs = 0;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      resolve(o);
    };
    const judge = (how: string): void => {
      if (c.framing === 'abort') return finish({ answered: false, unpromised: true, accepted: 0, errors: 0, label: 'aborted' });
      const p = parseLines(text);
      if (p.bad !== undefined) {
        // A client that does not half-close may be answered on a prefix of its input (the node
        // answers 0.5 s after a complete-looking document) and then cut off mid-answer.
        if (c.framing === 'noclose')
          return finish({
            answered: true,
            accepted: 0,
            errors: 0,
            label: 'cut-short',
            note: `answer cut short without a half-close (${how})`,
          });
        return finish({
          answered: false,
          accepted: 0,
          errors: 0,
          label: 'bad-line',
          violation: `${p.bad} (${how}, ${text.length} characters read)`,
        });
      }
      if (refusedAuth) {
        // Without the right token the whole input is refused with one line, whatever it holds.
        const line = p.items[0] as { status?: unknown; error?: unknown } | undefined;
        const ok = p.items.length === 1 && line?.status === 'error' && /^unauthenticated/.test(String(line.error));
        return finish(
          ok
            ? { answered: true, accepted: 0, errors: 1, label: 'unauthenticated' }
            : {
                answered: false,
                accepted: 0,
                errors: 0,
                label: 'auth-not-refused',
                violation: `an input without the token (${c.auth ?? ''}) was answered ${text.slice(0, 200)} (${how})`,
              },
        );
      }
      const j = judgeLines(p.items, c.control);
      const answered = j.violation === undefined;
      const label = answered ? (c.control ? 'control' : j.accepted > 0 ? 'accepted' : 'rejected') : `no-answer(${how})`;
      if (answered && stalledMs > STALL_MS) {
        // The fuzzer itself paused longer than the node's idle rule between two writes (its
        // event loop was busy, e.g. making a big input): the node may rightly have answered on
        // what had come so far, which is not what this input promised.
        return finish({
          answered,
          ...j,
          label,
          unpromised: true,
          note: `the fuzzer paused over ${STALL_MS} ms between two writes (answered on what had come, as the 0.5 s rule says)`,
        });
      }
      finish({ answered, ...j, label });
    };
    conn.on('data', (b: Buffer) => (text += b.toString('utf8')));
    conn.on('end', () => judge('closed'));
    conn.on('close', () => judge('closed'));
    conn.on('error', (err) => {
      // An input over the cap is answered and then cut: keep what was read.
      if (text !== '') judge('error');
      else if (c.framing === 'abort') judge('abort');
      else
        finish({
          answered: false,
          accepted: 0,
          errors: 0,
          label: 'conn-error',
          violation: `connection error before any answer: ${err.message}`,
        });
    });
    const timer = setTimeout(() => judge(`timeout ${timeoutMs} ms`), timeoutMs);
    conn.once('connect', () => {
      void (async () => {
        try {
          if (first !== undefined && first.length > 0) conn.write(first);
          if (c.framing === 'abort') {
            conn.write(c.body.subarray(0, rng.int(c.body.length + 1)));
            await delay(rng.int(30));
            conn.destroy();
            return judge('abort');
          }
          if (c.framing === 'chunks') {
            let at = 0;
            let last = Date.now();
            while (at < c.body.length && !settled) {
              const n = Math.max(1, rng.int(Math.ceil(c.body.length / 2) + 1));
              if (at > 0) stalledMs = Math.max(stalledMs, Date.now() - last);
              conn.write(c.body.subarray(at, at + n));
              last = Date.now();
              at += n;
              await delay(rng.int(120));
            }
            stalledMs = Math.max(stalledMs, Date.now() - last); // until the half-close
          } else {
            for (let i = 0; i < c.repeat && !settled; i++) if (!conn.write(c.body)) await drained(conn);
          }
          if (c.framing === 'noclose') {
            // A complete document is answered 0.5 s after it came; anything else waits for the half-close.
            await delay(1500);
            if (text !== '' || settled) return;
          }
          if (!conn.destroyed) conn.end();
        } catch {
          // The connection was cut: judged by its events.
        }
      })();
    });
  });
}

/** POSTs (or otherwise sends) a text input to the HTTP listener. */
export function sendHttp(port: number, c: TextCase, timeoutMs: number, token: string): Promise<Outcome> {
  const shape = c.http;
  if (shape === undefined) throw new Error('an HTTP case without its request shape');
  if (shape.raw !== undefined) return sendRawHttp(port, shape.raw, timeoutMs);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    const lie = shape.headers['content-length'] !== undefined;
    const headers: Record<string, string> = { ...shape.headers, connection: 'close' };
    const auth = c.auth ?? 'token';
    if (auth !== 'none') headers.authorization = `Bearer ${auth === 'token' ? token : '0'.repeat(token.length)}`;
    if (!lie && !shape.chunked && c.repeat === 1) headers['content-length'] = String(c.body.length);
    let req: http.ClientRequest;
    try {
      req = http.request({ host: '127.0.0.1', port, method: shape.method, path: shape.url, headers, agent: false });
    } catch (err) {
      resolve({
        answered: true,
        unpromised: true,
        accepted: 0,
        errors: 0,
        label: 'client-refused',
        note: `the HTTP client refused the request: ${(err as Error).message}`,
      });
      return;
    }
    const timer = setTimeout(
      () => finish({ answered: false, accepted: 0, errors: 0, label: 'no-answer', violation: `no HTTP answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
    req.on('response', (res) => {
      let body = '';
      res.on('data', (b: Buffer) => (body += b.toString('utf8')));
      res.on('error', () => undefined);
      res.on('end', () => finish(judgeHttp(c, res.statusCode ?? 0, body)));
      res.on('close', () => finish(judgeHttp(c, res.statusCode ?? 0, body)));
    });
    req.on('error', (err) => {
      if (!settled)
        finish({
          answered: false,
          accepted: 0,
          errors: 0,
          label: 'http-error',
          violation: `HTTP request failed before an answer: ${err.message}`,
        });
    });
    void (async () => {
      try {
        if (lie) {
          req.write(c.body); // announces more than it sends: answered 413 at once
          return;
        }
        for (let i = 0; i < c.repeat && !settled; i++) if (!req.write(c.body)) await new Promise((r) => req.once('drain', r));
        req.end();
      } catch {
        // Judged by its events.
      }
    })();
  });
}

function judgeHttp(c: TextCase, status: number, body: string): Outcome {
  const method = (c.http?.method ?? 'POST').toUpperCase(); // the client sends the method upper-cased
  const label = `http ${status}`;
  if (method !== 'POST') {
    if (status === 405) return { answered: true, accepted: 0, errors: 1, label };
    return { answered: true, accepted: 0, errors: 0, label, violation: `${method} answered ${status}, expected 405` };
  }
  // Refused before the body is read, in this order: another path, no token, not a document.
  const expected = refusalOf(c);
  if (expected !== undefined) {
    return status === expected
      ? { answered: true, accepted: 0, errors: 1, label }
      : {
          answered: true,
          accepted: 0,
          errors: 0,
          label,
          violation: `POST answered ${status}, expected ${expected}: ${body.slice(0, 200)}`,
        };
  }
  if (c.http?.headers['content-length'] !== undefined || c.repeat > 1) {
    return status === 413
      ? { answered: true, accepted: 0, errors: 1, label }
      : { answered: true, accepted: 0, errors: 0, label, violation: `an input over the cap answered ${status}, expected 413` };
  }
  if (status !== 202 && status !== 400)
    return {
      answered: true,
      accepted: 0,
      errors: 0,
      label,
      violation: `POST answered ${status}: ${body.slice(0, 300)}`,
      note: 'unexpected status',
    };
  let items: unknown;
  try {
    items = JSON.parse(body);
  } catch {
    return {
      answered: true,
      accepted: 0,
      errors: 0,
      label,
      violation: `HTTP ${status} body is not JSON: ${JSON.stringify(body.slice(0, 200))}`,
    };
  }
  if (!Array.isArray(items)) return { answered: true, accepted: 0, errors: 0, label, violation: 'HTTP answer is not an array' };
  const j = judgeLines(items, false);
  if (j.violation !== undefined) return { answered: true, label, ...j };
  if ((status === 202) !== j.accepted > 0) return { answered: true, label, ...j, violation: `HTTP ${status} with ${j.accepted} accepted` };
  return { answered: true, label, ...j };
}

/** The status an HTTP input must be refused with before its body is read, if any (src/inputs/http.ts). */
export function refusalOf(c: TextCase): 404 | 401 | 415 | undefined {
  const shape = c.http;
  if (shape === undefined) return undefined;
  if (new URL(shape.url, 'http://x').pathname !== '/messages') return 404;
  if ((c.auth ?? 'token') !== 'token') return 401;
  const type = (shape.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'].includes(type)) return 415;
  return undefined;
}

/** Raw bytes to the HTTP port: any HTTP status line is an answer. */
function sendRawHttp(port: number, raw: Buffer, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const conn = net.connect(port, '127.0.0.1');
    let text = '';
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve(
        m === null
          ? {
              answered: false,
              accepted: 0,
              errors: 0,
              label: 'raw no-answer',
              violation: `malformed HTTP request got no status line: ${JSON.stringify(text.slice(0, 100))}`,
            }
          : { answered: true, accepted: 0, errors: 0, label: `raw http ${m[1]}` },
      );
    };
    const timer = setTimeout(finish, timeoutMs);
    conn.on('data', (b: Buffer) => {
      text += b.toString('latin1');
      if (/\r\n\r\n/.test(text)) setTimeout(finish, 50);
    });
    conn.on('error', finish);
    conn.on('close', finish);
    conn.write(raw);
  });
}

/** Writes a file into the watched folder the safe way: a dot-file renamed into place. */
export function dropFile(inbox: string, c: TextCase): { name: string } | { skipped: string } {
  const name = c.fileName ?? `f${c.index}.json`;
  const tmp = path.join(inbox, `.incoming-${c.index}`);
  try {
    fs.writeFileSync(tmp, c.body);
    fs.renameSync(tmp, path.join(inbox, name));
    return { name };
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    return { skipped: (err as Error).message };
  }
}

export type FolderState = 'pending' | 'removed' | 'failed' | 'failed-without-error-file';

export function folderState(inbox: string, name: string): FolderState {
  if (fs.existsSync(path.join(inbox, name))) return 'pending';
  const failed = path.join(inbox, 'failed', name);
  if (fs.existsSync(failed)) return fs.existsSync(`${failed}.error`) ? 'failed' : 'failed-without-error-file';
  // A name too long for `<name>.error` may be moved aside under a shortened one (`<start>~<hash>`).
  if (Buffer.byteLength(name) > 200) {
    const start = Buffer.from(name).subarray(0, 100).toString();
    const dir = path.join(inbox, 'failed');
    const moved = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.startsWith(start) && !n.endsWith('.error')) : [];
    const errorOf = (n: string): string =>
      fs.existsSync(path.join(dir, `${n}.error`)) ? fs.readFileSync(path.join(dir, `${n}.error`), 'utf8') : '';
    if (moved.some((n) => errorOf(n).startsWith(`file: ${name}\n`))) return 'failed';
  }
  return 'removed';
}

/**
 * Publishes a payload as a request, proven as its case says: every node subject answers with an
 * ACK proven by the node (or the broker says nobody listens).
 */
export async function sendNats(
  nc: NatsConnection,
  c: NatsCase,
  timeoutMs: number,
  prover: WireProver,
): Promise<Outcome & { ack?: string }> {
  let h: ReturnType<typeof natsHeaders> | undefined;
  let sent: Sealed;
  try {
    sent = prover.headers(c);
    if (Object.keys(sent.headers).length > 0) {
      h = natsHeaders();
      for (const [k, v] of Object.entries(sent.headers)) h.set(k, v);
    }
  } catch (err) {
    return {
      answered: true,
      unpromised: true,
      accepted: 0,
      errors: 0,
      label: 'client-refused',
      note: `headers refused by the client: ${(err as Error).message}`,
    };
  }
  if (c.payload.length + 1024 > (nc.info?.max_payload ?? 1024 * 1024)) {
    return { answered: true, unpromised: true, accepted: 0, errors: 0, label: 'too-large-for-broker' };
  }
  let last: Outcome & { ack?: string } = { answered: false, accepted: 0, errors: 0, label: 'not-sent' };
  for (let i = 0; i < c.sends; i++) {
    try {
      const reply = await nc.request(c.subject, c.payload, { timeout: timeoutMs, ...(h === undefined ? {} : { headers: h }) });
      const opened = prover.openAck(c, sent, reply.data);
      if ('violation' in opened)
        return { answered: opened.label !== 'bad-ack', accepted: 0, errors: 0, label: opened.label, violation: opened.violation };
      const ack = JSON.parse(opened.ack) as { id?: unknown; status?: unknown; error?: unknown };
      const status = String(ack.status);
      if (!['ok', 'duplicate', 'rejected'].includes(status) || typeof ack.id !== 'string') {
        return {
          answered: false,
          accepted: 0,
          errors: 0,
          label: 'bad-ack',
          violation: `ACK of unknown shape: ${JSON.stringify(ack).slice(0, 200)}`,
        };
      }
      last = {
        answered: true,
        accepted: status === 'rejected' ? 0 : 1,
        errors: status === 'rejected' ? 1 : 0,
        label: status === 'rejected' ? `ack rejected (${stageOf(String(ack.error))})` : `ack ${status}`,
        ack: status,
      };
      if (opened.note !== undefined) last.note = opened.note;
      if (c.canary !== undefined && status !== (i === 0 ? 'ok' : 'duplicate')) {
        last.violation = `canary ${c.canary.tag} send ${i + 1} was ACKed ${status}${typeof ack.error === 'string' ? `: ${ack.error}` : ''}`;
      }
    } catch (err) {
      const why = describeNatsError(err);
      if (why === 'no-responders') last = { answered: true, accepted: 0, errors: 0, label: 'no responders' };
      else if (why === 'timeout')
        return { answered: false, accepted: 0, errors: 0, label: 'no-ack', violation: `no ACK within ${timeoutMs} ms on ${c.subject}` };
      else return { answered: true, unpromised: true, accepted: 0, errors: 0, label: 'client-error', note: `NATS client error: ${why}` };
    }
  }
  return last;
}

function describeNatsError(err: unknown): string {
  for (
    let e = err as { name?: string; message?: string; cause?: unknown } | undefined;
    e !== undefined && e !== null;
    e = e.cause as typeof e
  ) {
    const text = `${e.name ?? ''} ${e.message ?? ''}`;
    if (/no ?responders|503/i.test(text)) return 'no-responders';
    if (/timeout/i.test(text)) return 'timeout';
  }
  return (err as Error).message;
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function drained(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.once('drain', done);
    s.once('close', done);
  });
}
