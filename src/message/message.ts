/**
 * The message as every part of steward sees it once it has been parsed: units converted,
 * defaults applied, an id assigned. This is also what travels on the wire (CBOR or JSON).
 * `FIELDS` below is the one description of its fields: the `Message` type, the wire codec's
 * checks and the message factory are derived from it.
 */
import { newId } from './id.js';

export const KINDS = {
  CommandACK: 'CommandACK',
  CommandNACK: 'CommandNACK',
  EventACK: 'EventACK',
  EventNACK: 'EventNACK',
} as const;
export type Kind = (typeof KINDS)[keyof typeof KINDS];

export function isAckKind(kind: Kind): boolean {
  return kind === 'CommandACK' || kind === 'EventACK';
}

/** Node names become NATS subject tokens and folder names, so they are kept plain. */
export const NODE_NAME = /^[A-Za-z0-9_-]{1,128}$/;
export const NODE_NAME_RULE = 'letters, digits, _ and - only';

/** The longest timeout a timer can hold (about 24.8 days); longer ones are cut to it. */
export const MAX_TIMEOUT_MS = 0x7fffffff;

/** The reply method meaning "send no reply". */
export const NO_REPLY = 'REQNone';
export const DEFAULT_REPLY_METHOD = 'REQToFileAppend';
export const RELAY_METHOD = 'REQRelay';
/** The methods that handle replies and run nothing: the only ones a relayed reply may be copied back with. */
export const REPLY_METHODS: ReadonlySet<string> = new Set(['REQToFile', 'REQToFileAppend', 'REQToConsole', 'REQNone']);

/**
 * How a field is checked when it arrives from another node: `id` a message id, `node` a node
 * name, `ms` a duration (cut to MAX_TIMEOUT_MS), `time` milliseconds since 1970, `strings` a list
 * of strings. A trailing `?` marks a field that may be absent.
 */
export type FieldRule = 'id' | 'node' | 'string' | 'strings' | 'boolean' | 'number' | 'ms' | 'time' | 'node?' | 'string?';

/** Every field of a message, with its wire rule. */
export const FIELDS = {
  /** Unique, time-ordered (ULID). Replies and the parts of a request derive theirs from the request's. */
  id: 'id',
  toNode: 'node',
  fromNode: 'node',
  method: 'string',
  methodArgs: 'strings',
  replyMethod: 'string',
  replyMethodArgs: 'strings',
  isReply: 'boolean',
  data: 'strings',
  /** Per attempt; always >= 1 s once accepted. */
  ackTimeoutMs: 'ms',
  /** Re-sends after the first attempt; -1 = until delivered. */
  retries: 'number',
  /** 0 = the replying node's default. */
  replyAckTimeoutMs: 'ms',
  /** 0 = the replying node's default; -1 = until delivered. */
  replyRetries: 'number',
  /** -1 = no limit. */
  methodTimeoutMs: 'ms',
  /** 0 = the replying node's default; -1 = no limit. */
  replyMethodTimeoutMs: 'ms',
  directory: 'string',
  fileName: 'string',
  relayViaNode: 'string',
  relayReplyMethod: 'string',
  /** Relaying (see message/relay.ts): the node the relayed message came from. */
  relayFromNode: 'node?',
  /** Relaying: the node that runs the relayed message. */
  relayToNode: 'node?',
  /** Relaying: the relay node. */
  relayOriginalViaNode: 'node?',
  /** Relaying: the method the relayed message runs on relayToNode. */
  relayOriginalMethod: 'string?',
  /** A request carried on for another node (relayed, or a file copy's parts): its origin's signed request (trust/origin.ts). */
  origin: 'string?',
  /** Where the reply goes when not to fromNode (a file copy's end: to the node that asked for the copy). */
  replyToNode: 'node?',
  /** Milliseconds since the epoch when the message was accepted on its origin node. */
  createdMs: 'time',
} as const satisfies Record<string, FieldRule>;

type Rules = typeof FIELDS;
type ValueOf<R extends FieldRule> = R extends 'strings'
  ? string[]
  : R extends 'boolean'
    ? boolean
    : R extends 'number' | 'ms' | 'time'
      ? number
      : string;
type RequiredFields = { -readonly [K in keyof Rules as Rules[K] extends `${string}?` ? never : K]: ValueOf<Rules[K]> };
type OptionalFields = { -readonly [K in keyof Rules as Rules[K] extends `${string}?` ? K : never]?: ValueOf<Rules[K]> };

export type MessageFields = RequiredFields & OptionalFields;

export interface Message extends MessageFields {
  /** The request a reply answers (without its data), as the replying node saw it: a claim, never used to decide anything. */
  previousMessage?: Omit<Message, 'data' | 'previousMessage'>;
}

/** What a message built by steward itself must say; everything else has a neutral default. */
export type MessageDraft = Pick<Message, 'toNode' | 'fromNode' | 'method' | 'ackTimeoutMs' | 'retries'> & Partial<Message>;

/**
 * The one place messages are built (inputs, replies, hellos, error reports, relay hops, copy
 * chunks): a new id, no reply, no data, timeouts of 0 (the receiver's defaults), created now.
 */
export function newMessage(draft: MessageDraft, now: number = Date.now()): Message {
  return {
    id: newId(now),
    methodArgs: [],
    replyMethod: NO_REPLY,
    replyMethodArgs: [],
    isReply: false,
    data: [],
    replyAckTimeoutMs: 0,
    replyRetries: 0,
    methodTimeoutMs: 0,
    replyMethodTimeoutMs: 0,
    directory: '',
    fileName: '',
    relayViaNode: '',
    relayReplyMethod: '',
    createdMs: now,
    ...draft,
  };
}

/** NATS subject for a message: `<toNode>.<method>.<kind>`. */
export function subjectOf(toNode: string, method: string, kind: Kind): string {
  return `${toNode}.${method}.${kind}`;
}

/**
 * The subject a message is published on. A relayed message names its target too, as in the Go
 * seed (`<target>.<relay node>.REQRelay.<kind>`), so the broker's permissions can say which
 * targets a node may reach through a relay.
 */
export function subjectFor(msg: Pick<Message, 'toNode' | 'method' | 'relayToNode'>, kind: Kind): string {
  if (msg.method === RELAY_METHOD) return `${msg.relayToNode ?? ''}.${msg.toNode}.${RELAY_METHOD}.${kind}`;
  return subjectOf(msg.toNode, msg.method, kind);
}
