import type { ControlChannel } from '../inputs/stream.js';
import type { Message } from '../message/message.js';

/** Serves one operator request (node/control.ts), writing its answer lines to a channel. */
export type ControlHandler = (req: Record<string, unknown>, ch: ControlChannel) => Promise<void>;

/**
 * One operator request, as the socket serves it (DESIGN: web --operator protocol--> control),
 * through a channel held in memory: resolves with the answer lines once the request ends it.
 * Only requests that end are made here (no `watch`, no `wait`).
 */
export function call(handle: ControlHandler, req: Record<string, unknown>): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const lines: Record<string, unknown>[] = [];
    const closers: (() => void)[] = [];
    let ended = false;
    const ch: ControlChannel = {
      write: (line) => void lines.push(line as Record<string, unknown>),
      end: () => {
        if (ended) return;
        ended = true;
        resolve(lines);
        for (const c of closers) c();
      },
      onClose: (cb) => void (ended ? cb() : closers.push(cb)),
    };
    handle(req, ch).catch(reject);
  });
}

/** The one answer of a request. */
export async function callOne(handle: ControlHandler, req: Record<string, unknown>): Promise<Record<string, unknown>> {
  const [first] = await call(handle, req);
  return first ?? {};
}

/**
 * A job's stored template (a parsed message, toNode empty) as input again, for the nodes
 * given: "send again to the failed nodes". Units go back to the seed's (seconds); `where: {}`
 * keeps it a job even for one node.
 */
export function inputOfTemplate(t: Message, toNodes: readonly string[]): Record<string, unknown> {
  const s = (ms: number): number => (ms === -1 ? -1 : Math.max(1, Math.round(ms / 1000)));
  return {
    toNodes,
    where: {},
    method: t.method,
    methodArgs: t.methodArgs,
    replyMethod: t.replyMethod,
    replyMethodArgs: t.replyMethodArgs,
    ...(t.data.length > 0 ? { data: t.data } : {}),
    ACKTimeout: s(t.ackTimeoutMs),
    retries: t.retries,
    ...(t.replyAckTimeoutMs > 0 ? { replyACKTimeout: s(t.replyAckTimeoutMs) } : {}),
    ...(t.replyRetries !== 0 ? { replyRetries: t.replyRetries } : {}),
    methodTimeout: s(t.methodTimeoutMs),
    ...(t.replyMethodTimeoutMs !== 0 ? { replyMethodTimeout: s(t.replyMethodTimeoutMs) } : {}),
    directory: t.directory,
    fileName: t.fileName,
  };
}

/** A text cut to `max` characters, with the length it had. */
export function head(text: string | null | undefined, max: number): { text: string; length: number } {
  const t = text ?? '';
  return { text: t.length <= max ? t : t.slice(0, max), length: t.length };
}
