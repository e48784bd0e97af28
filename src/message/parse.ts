import type * as ZodLib from 'zod';
import { lazy } from '../lib/lazy.js';
import { didYouMean } from '../lib/closest.js';
import { splitDocument } from './document.js';
import {
  DEFAULT_REPLY_METHOD,
  MAX_TIMEOUT_MS,
  newMessage,
  NO_REPLY,
  NODE_NAME,
  NODE_NAME_RULE,
  RELAY_METHOD,
  type Message,
} from './message.js';
import { RELAY_INITIAL_METHOD, relayInitial } from './relay.js';

/** What the parser needs to know about the node accepting the input. */
export interface ParseContext {
  readonly nodeName: string;
  readonly methods: readonly string[];
  readonly defaultAckTimeoutMs: number;
  readonly defaultRetries: number;
  readonly defaultMethodTimeoutMs: number;
  readonly now?: () => number;
}

/**
 * A message for many nodes (a list of more than one, `*`, a label selector, a rollout or a
 * schedule): a job, with its selector and options as given (checked where the job is made).
 */
export interface JobRequest {
  readonly names: readonly string[] | '*';
  readonly where: Readonly<Record<string, string>>;
  readonly rollout?: { readonly batch?: unknown; readonly batchWait?: unknown; readonly maxFailures?: unknown };
  readonly every?: unknown;
}

/**
 * One outcome per message (after toNodes fan-out), in input order. A job's outcome carries its
 * request, and its message is the template every target gets (toNode empty).
 */
export type ParseOutcome =
  { index: number; ok: true; message: Message; job?: JobRequest } | { index: number; ok: false; error: string; toNode?: string };

const zod = lazy<typeof ZodLib>('zod');

/** The input schema with the seed's field names; keys are matched case-insensitively. */
function buildSchema(z: typeof ZodLib.z) {
  const anyScalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);
  const stringList = z.array(anyScalar);
  const int = z.number().int();
  const name = z.string();

  return z.strictObject({
    toNode: name.optional(),
    toNodes: z.array(name).optional(),
    method: z.string({ error: 'method is required' }),
    methodArgs: stringList.optional(),
    replyMethod: z.string().optional(),
    replyMethodArgs: stringList.optional(),
    data: z.union([stringList, anyScalar]).optional(),
    ACKTimeout: int.optional(),
    retries: int.optional(),
    replyACKTimeout: int.optional(),
    replyRetries: int.optional(),
    methodTimeout: int.optional(),
    replyMethodTimeout: int.optional(),
    directory: z.string().optional(),
    fileName: z.string().optional(),
    relayViaNode: z.string().optional(),
    relayReplyMethod: z.string().optional(),
    // Jobs (docs/fleet.md): label selectors, a rollout in batches, a recurring schedule.
    where: z.record(z.string(), anyScalar).optional(),
    rollout: z
      .strictObject({
        batch: z.union([int, z.string()]).optional(),
        batchWait: z.union([int, z.string()]).optional(),
        maxFailures: z.union([int, z.string()]).optional(),
      })
      .optional(),
    every: z.union([int, z.string()]).optional(),
    // Present in the Go message; accepted and ignored (steward assigns these itself).
    id: z.unknown().optional(),
    fromNode: z.unknown().optional(),
    isReply: z.unknown().optional(),
    relayFromNode: z.unknown().optional(),
    relayToNode: z.unknown().optional(),
    relayOriginalMethod: z.unknown().optional(),
    relayOriginalViaNode: z.unknown().optional(),
    previousMessage: z.unknown().optional(),
  });
}

type Input = ZodLib.z.infer<ReturnType<typeof buildSchema>>;

/** Built on first use: a node that never parses input never loads zod. */
let compiled: { schema: ReturnType<typeof buildSchema>; fields: string[]; byLower: Map<string, string> } | undefined;
function schema(): NonNullable<typeof compiled> {
  if (compiled === undefined) {
    const built = buildSchema(zod().z);
    const fields = Object.keys(built.shape);
    compiled = { schema: built, fields, byLower: new Map(fields.map((k) => [k.toLowerCase(), k])) };
  }
  return compiled;
}

/** Loads the schema library and builds the schema now (the parser thread, as it starts), not at the first input. */
export function prepareParser(): void {
  schema();
}

/** Parses raw input bytes into accepted messages and per-message errors. */
export function parseInput(bytes: Uint8Array, ctx: ParseContext): ParseOutcome[] {
  const out: ParseOutcome[] = [];
  parseInputInBatches(bytes, ctx, Number.POSITIVE_INFINITY, (outcomes) => {
    for (const o of outcomes) out.push(o);
  });
  return out;
}

/**
 * `parseInput`, handing the outcomes to `each` in input order as soon as `batch` of them are
 * made (the last batch may be smaller). The outcomes of one message (a job and its refused
 * names) are never split between two batches.
 */
export function parseInputInBatches(bytes: Uint8Array, ctx: ParseContext, batch: number, each: (outcomes: ParseOutcome[]) => void): void {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let out: ParseOutcome[] = [];
  for (const el of splitDocument(text)) {
    if ('error' in el) out.push({ index: el.index, ok: false, error: el.error });
    else for (const o of parseElement(el.index, el.value, ctx)) out.push(o);
    if (out.length >= batch) {
      each(out);
      out = [];
    }
  }
  if (out.length > 0) each(out);
}

function parseElement(index: number, value: unknown, ctx: ParseContext): ParseOutcome[] {
  const fail = (error: string, toNode?: string): ParseOutcome =>
    toNode === undefined ? { index, ok: false, error } : { index, ok: false, error, toNode };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [fail(`message ${index}: expected an object with toNode and method, got ${describe(value)}`)];
  }
  const { schema: InputSchema, fields: FIELD_NAMES, byLower: BY_LOWER } = schema();
  const canonical: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const field = BY_LOWER.get(key.toLowerCase());
    if (field === undefined) return [fail(`message ${index}: unknown field "${key}"${didYouMean(key, FIELD_NAMES)}`)];
    canonical[field] = v;
  }
  const parsed = InputSchema.safeParse(canonical);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `field ${issue.path.join('.')}: ` : '';
    return [fail(`message ${index}: ${where}${issue?.message ?? 'invalid'}`)];
  }
  const input = parsed.data;
  const methodError = checkMethod(input.method, ctx.methods, 'method');
  if (methodError !== undefined) return [fail(`message ${index}: ${methodError}`)];
  const replyMethod = input.replyMethod === undefined || input.replyMethod === '' ? DEFAULT_REPLY_METHOD : input.replyMethod;
  const replyError = checkMethod(replyMethod, [...ctx.methods, NO_REPLY], 'replyMethod');
  if (replyError !== undefined) return [fail(`message ${index}: ${replyError}`)];
  if (input.relayReplyMethod !== undefined && input.relayReplyMethod !== '') {
    const relayError = checkMethod(input.relayReplyMethod, [...ctx.methods, NO_REPLY], 'relayReplyMethod');
    if (relayError !== undefined) return [fail(`message ${index}: ${relayError}`)];
  }
  if (input.method === RELAY_METHOD || input.method === RELAY_INITIAL_METHOD) {
    return [
      fail(`message ${index}: ${input.method} is what steward sends when it relays; give the real method with "relayViaNode" instead`),
    ];
  }
  if (input.relayViaNode !== undefined && input.relayViaNode !== '' && !NODE_NAME.test(input.relayViaNode)) {
    return [fail(`message ${index}: relayViaNode "${input.relayViaNode.slice(0, 130)}" is not a valid node name (${NODE_NAME_RULE})`)];
  }
  const targets = input.toNode !== undefined && input.toNode !== '' ? [input.toNode] : (input.toNodes ?? []);
  if (targets.length === 0 && input.where === undefined)
    return [fail(`message ${index}: no toNode or toNodes given: say which node should run it`)];
  if (
    targets.includes('*') ||
    targets.length > 1 ||
    input.where !== undefined ||
    input.rollout !== undefined ||
    input.every !== undefined
  ) {
    if (input.relayViaNode !== undefined && input.relayViaNode !== '') {
      return [fail(`message ${index}: relayViaNode goes with one toNode, not with a job (toNodes, where, rollout, every)`)];
    }
    if (input.toNode === '*')
      return [fail(`message ${index}: toNode "*" is not a valid node name: for every node write "toNodes": ["*"]`, '*')];
    // A bad name is refused on its own line; the job goes to the good ones.
    const bad = targets.filter((t) => t !== '*' && !NODE_NAME.test(t));
    const refused = bad.map((b) => fail(`message ${index}: toNode "${b.slice(0, 130)}" is not a valid node name (${NODE_NAME_RULE})`, b));
    const good = targets.filter((t) => t === '*' || NODE_NAME.test(t));
    if (good.length === 0 && input.where === undefined) return refused;
    const job: JobRequest = {
      names: good.length === 0 || good.includes('*') ? '*' : good,
      where: input.where ?? {},
      ...(input.rollout === undefined ? {} : { rollout: input.rollout }),
      ...(input.every === undefined ? {} : { every: input.every }),
    };
    return [{ index, ok: true as const, message: build(input, '', replyMethod, ctx), job }, ...refused];
  }
  return targets.map((toNode) =>
    NODE_NAME.test(toNode)
      ? { index, ok: true as const, message: relayed(build(input, toNode, replyMethod, ctx), ctx.nodeName) }
      : fail(`message ${index}: toNode "${toNode}" is not a valid node name (${NODE_NAME_RULE})`, toNode),
  );
}

/** A message given relayViaNode starts as REQRelayInitial on this node (the seed's relay step 1). */
function relayed(msg: Message, nodeName: string): Message {
  if (msg.relayViaNode === '') return msg;
  return relayInitial(msg, nodeName) ?? { ...msg, relayViaNode: '' };
}

function checkMethod(method: string, known: readonly string[], field: string): string | undefined {
  if (known.includes(method)) return undefined;
  return `unknown ${field} "${method}"${didYouMean(method, known)}`;
}

function seconds(v: number | undefined, fallbackMs: number, allowForever: boolean): number {
  if (v === undefined) return fallbackMs;
  if (allowForever && v === -1) return -1;
  return v >= 1 ? Math.min(v * 1000, MAX_TIMEOUT_MS) : fallbackMs;
}

function build(input: Input, toNode: string, replyMethod: string, ctx: ParseContext): Message {
  const data = input.data === undefined ? [] : Array.isArray(input.data) ? input.data : [input.data];
  const retries = input.retries === -1 ? -1 : input.retries !== undefined && input.retries >= 1 ? input.retries : ctx.defaultRetries;
  const replyRetries = input.replyRetries === -1 ? -1 : Math.max(0, input.replyRetries ?? 0);
  return newMessage(
    {
      toNode,
      fromNode: ctx.nodeName,
      method: input.method,
      methodArgs: input.methodArgs ?? [],
      replyMethod,
      replyMethodArgs: input.replyMethodArgs ?? [],
      data,
      ackTimeoutMs: seconds(input.ACKTimeout, ctx.defaultAckTimeoutMs, false),
      retries,
      replyAckTimeoutMs: seconds(input.replyACKTimeout, 0, false),
      replyRetries,
      methodTimeoutMs: seconds(input.methodTimeout, ctx.defaultMethodTimeoutMs, true),
      replyMethodTimeoutMs: seconds(input.replyMethodTimeout, 0, true),
      directory: input.directory ?? '',
      fileName: input.fileName ?? '',
      relayViaNode: input.relayViaNode ?? '',
      relayReplyMethod: input.relayReplyMethod ?? '',
    },
    (ctx.now ?? Date.now)(),
  );
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  // eslint-disable-next-line no-control-regex
  if (typeof v === 'string' && /[\u0000-\u0008\u000e-\u001f\ufffd]/.test(v))
    return `binary data (${v.length} characters), not JSON or YAML text`;
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `a ${typeof v}`;
}
