import { DEFAULT_REPLY_METHOD, REPLY_METHODS, type Message } from '../message/message.js';
import type { OutboxRecord } from '../store/outbox.js';

const REPLY_SUFFIX = /^(.+)-r\d{1,9}$/;
const COPY_PART = /^(.+)-(?:end|abort|c\d{1,15})$/;

/**
 * A reply is accepted only as the answer to a request this node really sent, to the node that
 * now replies: what it may cause (its method and arguments, the result path, a relay step) comes
 * from the stored request, never from fields the replier sets; only its data is its own.
 * Returns the message to run, or why it is refused.
 *
 * The requests a reply can answer, by its id:
 * - `<request>-r<n>`: a reply from the node `<request>` went to;
 * - `<copy>-end-r<n>`: the destination's reply to the end of a file copy this node asked for;
 * - `<request>-fwd-r<n>-back`: a relay node's copy of a reply to the REQRelay `<request>` this node sent it.
 */
export function matchReply(msg: Message, from: string, sent: (id: string) => OutboxRecord | undefined, self: string): Message | string {
  const refuse = (why: string): string => `reply ${msg.id} from ${from} refused: ${why}`;
  let id = msg.id;
  const back = id.endsWith('-back');
  if (back) id = id.slice(0, -'-back'.length);
  const m = REPLY_SUFFIX.exec(id);
  if (m === null) return refuse('its id is not the id of a reply');
  let reqId = m[1] as string;
  let rec: OutboxRecord | undefined;
  let ranBy = from;
  if (back) {
    // The relay node copies the replies to the message it forwarded (`<our REQRelay>-fwd`) for us
    // (or to a part of it: the end of a file copy the relayed message asked for).
    reqId = COPY_PART.exec(reqId)?.[1] ?? reqId;
    if (!reqId.endsWith('-fwd')) return refuse('a relayed reply that answers no relayed message');
    reqId = reqId.slice(0, -'-fwd'.length);
    rec = sent(reqId);
    if (rec === undefined || rec.toNode !== from) return refuse(`${self} never had ${from} relay that message`);
    // Who ran it: the relay target, or for a relayed copy's end the destination, which the relay
    // node may be; the relay node says which, among those two only.
    const target = rec.message.relayToNode ?? from;
    const said = msg.previousMessage?.toNode;
    ranBy = said === from || said === target ? said : target;
  } else {
    rec = sent(reqId);
    const part = COPY_PART.exec(reqId);
    if (rec === undefined && part !== null) {
      // The end of a copy is sent by the copy's source; its destination replies to us.
      rec = sent(part[1] as string);
      if (rec === undefined || rec.message.method !== 'REQCopyFileFrom' || rec.message.methodArgs[1] !== from) {
        return refuse(`${self} never asked for a copy to ${from}`);
      }
    } else if (rec === undefined) return refuse(`${self} never sent ${reqId}`);
    else if (rec.toNode !== from) return refuse(`${reqId} went to ${rec.toNode}, not to ${from}`);
  }
  const req = rec.message;
  const method = back && req.relayReplyMethod !== '' ? req.relayReplyMethod : req.replyMethod;
  if (msg.method !== method) return refuse(`the request asked for ${method} replies, not ${msg.method.slice(0, 100)}`);
  if (back && !REPLY_METHODS.has(method)) return refuse(`a relayed reply may only be handled by ${[...REPLY_METHODS].join(', ')}`);
  const { data: _data, previousMessage: _prev, origin: _origin, ...request } = req;
  return {
    ...msg,
    methodArgs: method === req.replyMethod ? req.replyMethodArgs : [],
    // A reply handled by a command replies again, here, to its own result file.
    replyMethod: DEFAULT_REPLY_METHOD,
    replyMethodArgs: [],
    directory: req.directory,
    fileName: req.fileName,
    relayReplyMethod: '',
    methodTimeoutMs: req.replyMethodTimeoutMs,
    // The request as this node stored it, with the node that ran it: the result path (and, on a
    // relay node, the relay step) comes from it. A relayed reply is not relayed again.
    previousMessage: back ? { ...request, toNode: ranBy, relayOriginalViaNode: '', relayFromNode: '' } : { ...request, toNode: ranBy },
  };
}
