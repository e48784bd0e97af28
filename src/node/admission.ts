import { createHash } from 'node:crypto';
import { requestIdOfPart } from '../message/id.js';
import { RELAY_METHOD, REPLY_METHODS, type Message } from '../message/message.js';
import type { OutboxRecord } from '../store/outbox.js';
import { confine } from '../store/result-path.js';
import { LEDGER_RETENTION_MS } from '../store/inbox.js';
import type { Decision, PolicyRequest } from '../trust/policy.js';
import { verifyOrigin, type OriginRequest } from '../trust/origin.js';
import type { Proofs } from '../trust/proof.js';
import { matchReply } from './replies.js';

export interface AdmissionDeps {
  readonly nodeName: string;
  /** The fleet's central node: its key is never learnt from a request another node carries. */
  readonly centralName: string;
  /** A message this node sent (its outbox, finished ones included). */
  readonly sent: (id: string) => OutboxRecord | undefined;
  readonly decide: (req: PolicyRequest) => Decision;
  /** Undefined with -trust=off: origins are then taken as given. */
  readonly proofs: Proofs | undefined;
  readonly keyOf: (node: string) => string | undefined;
  /** The node's key was revoked here. */
  readonly revoked: (node: string) => boolean;
  /** Binds a key shown by a signature to a name not known yet (trust on first use, or not at all). */
  readonly bind: (node: string, key: string) => boolean;
  /** The method's subscriber was switched off by a -startSubREQ... flag. */
  readonly switchedOff: (method: string) => boolean;
  readonly now: () => number;
}

/** Folders of the data folder that only this node writes (its error log, the hellos it got). */
const RESERVED_FOLDERS = ['errorLog', 'hello-messages'];

export type Admission = { ok: true; msg: Message } | { ok: false; error: string; rule?: string };

/**
 * Decides whether a message from another node (already proven to come from `from`) may be
 * received, and in what form: a reply only as the answer to a request of this node's own
 * (replies.ts); any other message only when this node's policy allows its origin (the node that
 * proved it, or for a relayed message or a file copy's part, the node whose signed request it
 * carries) to ask for it.
 */
export function admit(msg: Message, from: string, d: AdmissionDeps): Admission {
  const deny = (error: string, rule?: string): Admission => ({ ok: false, error, ...(rule === undefined ? {} : { rule }) });
  if (msg.createdMs < d.now() - LEDGER_RETENTION_MS) {
    return deny('it is older than the 30 days this node remembers message ids for (a replay?)');
  }
  if (msg.isReply) {
    const matched = matchReply(msg, from, d.sent, d.nodeName);
    return typeof matched === 'string' ? deny(matched) : { ok: true, msg: matched };
  }
  // Any other message's previousMessage is its sender's claim: nothing is taken from it.
  if (msg.previousMessage !== undefined) {
    const { previousMessage: _claim, ...rest } = msg;
    msg = rest;
  }
  // A REQRelay's directory is where its reply lands on this node (the relay node's own request).
  if (
    (msg.method === 'REQToFile' || msg.method === 'REQToFileAppend' || msg.method === RELAY_METHOD) &&
    RESERVED_FOLDERS.includes(confine(msg.directory).split('/')[0] ?? '')
  ) {
    return deny(`${msg.method} may not write into ${confine(msg.directory).split('/')[0]}/, which only ${d.nodeName} writes`);
  }
  let origin = from;
  let req: PolicyRequest;
  let admitted = msg;
  if (msg.method === RELAY_METHOD) {
    const r = carried(msg, d);
    if (typeof r === 'string') return deny(`relay refused: ${r}`);
    if (
      r.from !== from ||
      r.to !== msg.relayToNode ||
      r.method !== msg.relayOriginalMethod ||
      !sameArgs(r.methodArgs, msg.methodArgs) ||
      msg.id !== `${r.id}-relay`
    ) {
      return deny('relay refused: its origin proof is for another request');
    }
    if (msg.relayReplyMethod !== '' && !REPLY_METHODS.has(msg.relayReplyMethod)) {
      return deny(`relay refused: relayReplyMethod may only be ${[...REPLY_METHODS].join(', ')}`);
    }
    // The target's reply comes back to this node as the answer to its own forwarded request and
    // runs here with that request's reply method: it may only be one that runs nothing.
    if (msg.replyMethod !== '' && !REPLY_METHODS.has(msg.replyMethod)) {
      return deny(`relay refused: replyMethod may only be ${[...REPLY_METHODS].join(', ')}`);
    }
    req = { from, method: RELAY_METHOD, methodArgs: [r.method, ...r.methodArgs], relayTo: r.to };
  } else if (msg.relayFromNode !== undefined && msg.relayFromNode !== '' && msg.relayOriginalViaNode === from) {
    // Relayed to us by `from` for relayFromNode: the policy is checked against the origin.
    const r = carried(msg, d);
    if (typeof r === 'string') return deny(`relayed message refused: ${r}`);
    // One relayed request has one id here (`<origin id>-relay-fwd`), so the ledger refuses a repeat.
    if (
      r.from !== msg.relayFromNode ||
      r.to !== d.nodeName ||
      r.method !== msg.method ||
      !sameArgs(r.methodArgs, msg.methodArgs) ||
      msg.id !== `${r.id}-relay-fwd`
    ) {
      return deny('relayed message refused: its origin proof is for another request');
    }
    origin = r.from;
    req = { from: origin, method: msg.method, methodArgs: msg.methodArgs, via: from, ...strictIfSwitchedOff(msg, d) };
  } else if (msg.method === 'REQCopyFileTo') {
    const copy = copyOrigin(msg, from, d);
    if (typeof copy === 'string') return deny(`copy refused: ${copy}`);
    if (copy.askedHere) {
      // Our own request says where the copy's reply goes (and whether it is relayed back): not the source.
      const own = copy.request;
      return {
        ok: true,
        msg: {
          ...msg,
          replyToNode: d.nodeName,
          replyMethod: own.replyMethod,
          replyMethodArgs: own.replyMethodArgs,
          directory: own.directory,
          fileName: own.fileName,
          relayReplyMethod: own.relayReplyMethod,
          ...(own.relayFromNode === undefined ? {} : { relayFromNode: own.relayFromNode }),
          ...(own.relayOriginalViaNode === undefined ? {} : { relayOriginalViaNode: own.relayOriginalViaNode }),
        },
      };
    }
    origin = copy.from;
    admitted = { ...msg, replyToNode: copy.from };
    req = { from: origin, method: msg.method, methodArgs: [msg.methodArgs[1] ?? ''] };
  } else {
    req = { from, method: msg.method, methodArgs: msg.methodArgs, ...strictIfSwitchedOff(msg, d) };
  }
  const decision = d.decide(req);
  if (!decision.allow) {
    const what = req.method === RELAY_METHOD ? `relay ${req.methodArgs[0] ?? ''} to ${req.relayTo ?? ''}` : req.method;
    return deny(`denied by the policy of ${d.nodeName}: ${origin} may not ${what} (rule: ${decision.rule})`, decision.rule);
  }
  return { ok: true, msg: admitted };
}

/** Starting a method switched off here is allowed only by a rule that names it exactly (relayed or not). */
function strictIfSwitchedOff(msg: Message, d: AdmissionDeps): { strict?: true } {
  return msg.method === 'REQOpProcessStart' && d.switchedOff(msg.methodArgs[0] ?? '') ? { strict: true } : {};
}

/**
 * The origin request a message carries, checked: signed by the key bound here to its origin, or,
 * for an origin not known here, by a key that `bind` binds to it as that node's own first message
 * would (trust on first use, an operator's acceptance, or not at all: never on the carrier's word,
 * and central's key never this way); and over this message's data.
 */
function carried(msg: Message, d: AdmissionDeps): OriginRequest | string {
  if (d.proofs === undefined) {
    return {
      id: requestIdOfPart(msg.id),
      from: msg.relayFromNode ?? msg.fromNode,
      to: msg.relayToNode ?? msg.toNode,
      method: msg.relayOriginalMethod ?? msg.method,
      methodArgs: msg.methodArgs,
      dataSha256: '',
      createdMs: msg.createdMs,
    };
  }
  if (d.revoked(msg.relayFromNode ?? '')) return `the key of its origin ${msg.relayFromNode ?? ''} was revoked here`;
  // The most trusted name is bound only from its own messages (or -centralPublicKey, or an import).
  const r = verifyOrigin(d.proofs, msg.origin, d.keyOf, false, (node, key) => node !== d.centralName && d.bind(node, key));
  if (typeof r === 'string') return r;
  const bad = checkedOrigin(r, d);
  if (bad !== undefined) return bad;
  if (r.id !== requestIdOfPart(msg.id)) return 'its origin proof is for another message';
  if (r.dataSha256 !== createHash('sha256').update(msg.data.join('')).digest('hex')) return 'its data is not the data its origin signed';
  return r;
}

/** Who asked for the copy a REQCopyFileTo message is part of: this node itself, a node whose signed request it carries, or its sender. */
function copyOrigin(
  msg: Message,
  from: string,
  d: AdmissionDeps,
): { askedHere: true; request: Message } | { askedHere: false; from: string } | string {
  const [, dstPath = '', copyId = ''] = msg.methodArgs;
  const own = d.sent(copyId);
  const matches = (m: { method: string; methodArgs: readonly string[] }, to: string): boolean =>
    m.method === 'REQCopyFileFrom' && to === from && m.methodArgs[1] === d.nodeName && m.methodArgs[2] === dstPath;
  if (own !== undefined) {
    return matches(own.message, own.toNode)
      ? { askedHere: true, request: own.message }
      : `${d.nodeName} asked ${own.toNode} for another copy`;
  }
  // Without a carried request, the sender asks for itself (and the policy decides).
  if (msg.origin === undefined || msg.origin === '') return { askedHere: false, from };
  if (d.proofs === undefined) return { askedHere: false, from: msg.replyToNode ?? from };
  const r = verifyOrigin(d.proofs, msg.origin, d.keyOf, false, d.bind);
  if (typeof r === 'string') return r;
  const bad = checkedOrigin(r, d);
  if (bad !== undefined) return bad;
  const part = msg.id.startsWith(`${copyId}-`) ? msg.id.slice(copyId.length + 1) : '';
  if (r.id !== copyId || !matches(r, r.to) || !/^(?:c\d{1,15}|end|abort)$/.test(part)) {
    return 'its origin proof is not a request for this copy';
  }
  return { askedHere: false, from: r.from };
}

/** Why a carried origin request may not be acted on here: its origin's key was revoked, or it is too old. */
function checkedOrigin(r: OriginRequest, d: AdmissionDeps): string | undefined {
  if (d.revoked(r.from)) return `the key of its origin ${r.from} was revoked here`;
  if (r.createdMs < d.now() - LEDGER_RETENTION_MS) return 'its origin request is older than the 30 days this node remembers (a replay?)';
  return undefined;
}

function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
