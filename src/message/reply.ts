import { replyId } from './id.js';
import { DEFAULT_REPLY_METHOD, newMessage, NO_REPLY, type Message } from './message.js';

export interface ReplyDefaults {
  readonly nodeName: string;
  readonly ackTimeoutMs: number;
  readonly retries: number;
  readonly methodTimeoutMs: number;
}

/**
 * The reply to `req` carrying `output`, or undefined for replyMethod REQNone. It goes back to
 * the node the request came from, with the request's reply settings (or this node's defaults).
 * A reply to a reply (e.g. REQCliCommand used as replyMethod) stays on this node and keeps the
 * original request, so its result lands next to the first one's.
 */
export function makeReply(req: Message, output: string, seq: number, d: ReplyDefaults, now: number): Message | undefined {
  if (req.replyMethod === NO_REPLY) return undefined;
  const { data: _data, previousMessage, origin: _origin, ...request } = req;
  return newMessage(
    {
      id: replyId(req.id, seq),
      toNode: req.isReply ? d.nodeName : (req.replyToNode ?? req.fromNode),
      fromNode: d.nodeName,
      method: req.replyMethod,
      methodArgs: req.replyMethodArgs,
      replyMethod: DEFAULT_REPLY_METHOD,
      isReply: true,
      data: [output],
      ackTimeoutMs: req.replyAckTimeoutMs >= 1000 ? req.replyAckTimeoutMs : d.ackTimeoutMs,
      retries: req.replyRetries === -1 || req.replyRetries >= 1 ? req.replyRetries : d.retries,
      methodTimeoutMs: req.replyMethodTimeoutMs === -1 || req.replyMethodTimeoutMs >= 1000 ? req.replyMethodTimeoutMs : d.methodTimeoutMs,
      directory: req.directory,
      fileName: req.fileName,
      relayReplyMethod: req.relayReplyMethod,
      previousMessage: req.isReply && previousMessage !== undefined ? previousMessage : request,
    },
    now,
  );
}
