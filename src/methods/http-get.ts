import { maxOutputBytes } from '../message/limits.js';
import { KINDS } from '../message/message.js';
import { endedBy, type MethodHandler } from './method.js';

/** Why a GET ended without a body to reply with. */
class HttpGetError extends Error {}

/**
 * REQHttpGet: GETs `methodArgs[0]` (http or https) within `methodTimeout` (-1: no limit) and
 * replies with the body. A non-2xx status, a timeout, a failed request or a body larger than
 * fits a reply is an error to the sender and to central's error log, and nothing is replied.
 * Not redone after a crash: a GET may have side effects on the server.
 */
export const httpGet: MethodHandler = {
  name: 'REQHttpGet',
  kind: KINDS.EventACK,
  onInterrupted: 'report',
  run: async (msg, ctx) => {
    const raw = msg.methodArgs[0] ?? '';
    const fail = (text: string): void => ctx.reportError(`error: REQHttpGet: ${text} (id ${msg.id})`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      fail(`methodArgs[0] is not a URL: ${JSON.stringify(raw)}; give one, e.g. ["https://example.com/"]`);
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      fail(`only http and https URLs are fetched, not ${url.protocol.slice(0, -1)}: ${raw}`);
      return;
    }
    let body: string;
    try {
      body = await fetchBody(url, ctx.signal, maxOutputBytes(ctx.maxPayload));
    } catch (err) {
      const ended = endedBy(ctx.signal);
      if (ended === 'stopping') return;
      if (ended === 'timeout') fail(`method timed out after ${msg.methodTimeoutMs / 1000} s, url: ${raw}`);
      else if (err instanceof HttpGetError) fail(`${err.message}, url: ${raw}`);
      else fail(`request failed: ${describe(err)}, url: ${raw}`);
      return;
    }
    if (endedBy(ctx.signal) === 'stopping') return;
    await ctx.reply(body);
  },
};

async function fetchBody(url: URL, signal: AbortSignal, maxBytes: number): Promise<string> {
  const res = await fetch(url, { signal, redirect: 'follow' });
  if (res.status < 200 || res.status > 299) {
    await res.body?.cancel().catch(() => undefined);
    throw new HttpGetError(`not 2xx: status ${res.status}${res.statusText === '' ? '' : ` ${res.statusText}`}`);
  }
  const tooLarge = (): HttpGetError =>
    new HttpGetError(
      `body larger than ${maxBytes} bytes (a reply must fit the broker's max payload); fetch it with REQCliCommand and curl -o, or REQCopyFileFrom`,
    );
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body !== null) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/** fetch hides the network error (ECONNREFUSED, ENOTFOUND) in `cause`. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
