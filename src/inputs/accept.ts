import type { Logger } from 'pino';
import { encodeMessage, type Encoded, type WireOptions } from '../message/codec.js';
import { subjectFor, type Kind, type Message } from '../message/message.js';
import { parseInputBatches, parserThreadUnavailable } from '../message/large-input.js';
import type { JobRequest, ParseContext, ParseOutcome } from '../message/parse.js';
import { RELAY_INITIAL_METHOD, relayToVia } from '../message/relay.js';
import { ENVELOPE_MARGIN } from '../message/limits.js';

/** What an input tells its client about one message (a job: one line per target, with its job). */
export type InputResult =
  | { status: 'accepted'; index: number; id: string; toNode: string; subject: string; job?: string; schedule?: string }
  | { status: 'error'; index: number; error: string; toNode?: string };

/** What submitting a job gives: its id, its targets with the ids their messages have (or will have). */
export interface SubmittedJob {
  readonly job: string;
  readonly schedule?: string;
  readonly targets: readonly { node: string; id: string }[];
}

/** Hands input bytes to the node: parsed, checked, committed; one result per message. */
export type AcceptInput = (bytes: Uint8Array, beforeSubmit?: (ids: string[]) => void) => Promise<InputResult[]>;

export interface AcceptorDeps {
  readonly parse: Omit<ParseContext, 'now'>;
  readonly wire: WireOptions;
  /** The broker's max payload now. */
  readonly maxPayload: () => number;
  readonly kindOf: (method: string) => Kind;
  /** Messages committed per transaction. */
  readonly chunk: number;
  /** Commits messages to the outbox (see Outgoing.submit). */
  readonly submit: (messages: Message[], encoded: Encoded[]) => Promise<unknown>;
  readonly accepted: (count: number) => void;
  /** Last touches of the node before a message is stored (the origin proof of a copy or relay request). */
  readonly prepare?: (msg: Message) => Message;
  /**
   * Makes a job of a template (fleet/jobs.ts); `beforeSubmit` sees its message ids before any can
   * be delivered. Throws when the request is wrong (a selector that matches nothing...).
   */
  readonly submitJob?: (template: Message, job: JobRequest, beforeSubmit?: (ids: string[]) => void) => Promise<SubmittedJob>;
  readonly logger: Logger;
  /** How the input is parsed (large-input.ts; a stand-in in unit tests). */
  readonly parseBatches?: typeof parseInputBatches;
}

/**
 * Input acceptance shared by every input (socket, TCP, HTTP, folder, operator `send`): parses
 * (large inputs on the parser thread), refuses what cannot fit the broker's max payload, commits
 * the good messages in chunks and tells the client, per message, its id or what was wrong.
 */
export function inputAcceptor(d: AcceptorDeps): AcceptInput {
  let warnedNoParserThread = false;
  const parse = d.parseBatches ?? parseInputBatches;
  return async (bytes, beforeSubmit) => {
    const results: InputResult[] = [];
    const limit = d.maxPayload() - ENVELOPE_MARGIN;
    // Committed in chunks as the parser hands them over, so delivery of the first messages of a
    // large input starts while the rest is still being parsed and stored.
    const waiting: ParseOutcome[] = [];
    for await (const batch of parse(bytes, d.parse, d.chunk)) {
      for (const o of batch) waiting.push(o);
      while (waiting.length >= d.chunk) await commitChunk(d, waiting.splice(0, d.chunk), results, limit, beforeSubmit);
    }
    if (waiting.length > 0) await commitChunk(d, waiting, results, limit, beforeSubmit);
    const noThread = parserThreadUnavailable();
    if (noThread !== undefined && !warnedNoParserThread) {
      warnedNoParserThread = true;
      d.logger.warn({ err: noThread }, 'the parser thread could not start: large inputs are parsed on the event loop');
    }
    return results;
  };
}

/** Checks and commits one chunk of outcomes; their answer lines are added to `results`. */
async function commitChunk(
  d: AcceptorDeps,
  outcomes: readonly ParseOutcome[],
  results: InputResult[],
  limit: number,
  beforeSubmit?: (ids: string[]) => void,
): Promise<void> {
  const accepted: { msg: Message; at: number; encoded: Encoded }[] = [];
  for (const o of outcomes) {
    if (!o.ok) {
      results.push({ status: 'error', index: o.index, error: o.error, ...(o.toNode === undefined ? {} : { toNode: o.toNode }) });
      continue;
    }
    if (o.job !== undefined) {
      results.push(...(await submitJob(d, o.index, o.message, o.job, beforeSubmit)));
      continue;
    }
    const msg = d.prepare?.(o.message) ?? o.message;
    const encoded = await encodeMessage(msg, d.wire);
    // Compressed or not: a receiver inflates no message beyond the max payload.
    const size = Math.max(encoded.payload.length, encoded.plainBytes);
    if (size > limit) {
      results.push({
        status: 'error',
        index: o.index,
        toNode: msg.toNode,
        error: `message ${o.index} is ${size} bytes, more than the broker's max payload allows (${limit} bytes)`,
      });
      continue;
    }
    accepted.push({ msg, at: results.length, encoded });
    results.push({ status: 'error', index: o.index, error: 'pending' });
  }
  if (accepted.length === 0) return;
  beforeSubmit?.(accepted.map((a) => a.msg.id));
  try {
    await d.submit(
      accepted.map((a) => a.msg),
      accepted.map((a) => a.encoded),
    );
    d.accepted(accepted.length);
    for (const { msg, at } of accepted) {
      // A relayed message is shown as it leaves: for its target, on the relay subject.
      const shown = msg.method === RELAY_INITIAL_METHOD ? relayToVia(msg, d.parse.nodeName) : msg;
      const index = (results[at] as InputResult).index;
      results[at] = {
        status: 'accepted',
        index,
        id: msg.id,
        toNode: msg.relayToNode ?? msg.toNode,
        subject: subjectFor(shown, d.kindOf(shown.method)),
      };
    }
  } catch (err) {
    for (const { at } of accepted) {
      results[at] = {
        status: 'error',
        index: (results[at] as InputResult).index,
        error: `not accepted, the store failed: ${(err as Error).message}`,
      };
    }
  }
}

/** A job's lines: one per target (its message id, known before it is sent), or the one error. */
async function submitJob(
  d: AcceptorDeps,
  index: number,
  template: Message,
  job: JobRequest,
  beforeSubmit?: (ids: string[]) => void,
): Promise<InputResult[]> {
  if (d.submitJob === undefined) return [{ status: 'error', index, error: `message ${index}: this node takes no jobs` }];
  const size = (await encodeMessage(d.prepare?.(template) ?? template, d.wire)).plainBytes;
  const limit = d.maxPayload() - ENVELOPE_MARGIN;
  if (size > limit)
    return [
      { status: 'error', index, error: `message ${index} is ${size} bytes, more than the broker's max payload allows (${limit} bytes)` },
    ];
  try {
    const s = await d.submitJob(template, job, beforeSubmit);
    d.accepted(s.targets.length);
    return s.targets.map((t) => ({
      status: 'accepted',
      index,
      id: t.id,
      toNode: t.node,
      subject: subjectFor({ ...template, toNode: t.node }, d.kindOf(template.method)),
      job: s.job,
      ...(s.schedule === undefined ? {} : { schedule: s.schedule }),
    }));
  } catch (err) {
    return [{ status: 'error', index, error: `message ${index}: ${(err as Error).message}` }];
  }
}
