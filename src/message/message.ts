/**
 * The message as every part of steward sees it once it has been parsed: units converted,
 * defaults applied, an id assigned. This is also what travels on the wire (CBOR or JSON).
 */

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

/** The longest timeout a timer can hold (about 24.8 days); longer ones are cut to it. */
export const MAX_TIMEOUT_MS = 0x7fffffff;

/** The reply method meaning "send no reply". */
export const NO_REPLY = 'REQNone';
export const DEFAULT_REPLY_METHOD = 'REQToFileAppend';

export interface Message {
  /** Unique, time-ordered (ULID). Replies derive theirs from the request's. */
  id: string;
  toNode: string;
  fromNode: string;
  method: string;
  methodArgs: string[];
  replyMethod: string;
  replyMethodArgs: string[];
  isReply: boolean;
  data: string[];
  /** Per attempt; always >= 1 s once accepted. */
  ackTimeoutMs: number;
  /** Re-sends after the first attempt; -1 = until delivered. */
  retries: number;
  /** 0 = the replying node's default. */
  replyAckTimeoutMs: number;
  /** 0 = the replying node's default; -1 = until delivered. */
  replyRetries: number;
  /** -1 = no limit. */
  methodTimeoutMs: number;
  /** 0 = the replying node's default; -1 = no limit. */
  replyMethodTimeoutMs: number;
  directory: string;
  fileName: string;
  relayViaNode: string;
  relayReplyMethod: string;
  /** Relaying (set by steward, see src/node/relay.ts): the node the relayed message came from. */
  relayFromNode?: string;
  /** Relaying: the node that runs the relayed message. */
  relayToNode?: string;
  /** Relaying: the relay node; a reply about a message carrying it is copied back to relayFromNode. */
  relayOriginalViaNode?: string;
  /** Relaying: the method the relayed message runs on relayToNode. */
  relayOriginalMethod?: string;
  /** Milliseconds since the epoch when the message was accepted on its origin node. */
  createdMs: number;
  /** The request a reply answers (without its data). */
  previousMessage?: Omit<Message, 'data' | 'previousMessage'>;
}

/** NATS subject for a message: `<toNode>.<method>.<kind>`. */
export function subjectOf(toNode: string, method: string, kind: Kind): string {
  return `${toNode}.${method}.${kind}`;
}

export const RELAY_METHOD = 'REQRelay';

/**
 * The subject a message is published on. A relayed message names its target too, as in the Go
 * seed (`<target>.<relay node>.REQRelay.<kind>`), so the broker's permissions can say which
 * targets a node may reach through a relay.
 */
export function subjectFor(msg: Pick<Message, 'toNode' | 'method' | 'relayToNode'>, kind: Kind): string {
  if (msg.method === RELAY_METHOD) return `${msg.relayToNode ?? ''}.${msg.toNode}.${RELAY_METHOD}.${kind}`;
  return subjectOf(msg.toNode, msg.method, kind);
}
