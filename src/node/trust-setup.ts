import type { Logger } from 'pino';
import type { Message } from '../message/message.js';
import { RELAY_INITIAL_METHOD } from '../message/relay.js';
import type { ResolvedConfig } from '../config/load.js';
import type { AuditLog } from '../store/audit.js';
import type { Db } from '../store/db.js';
import { KeyStore } from '../store/keys.js';
import { fingerprint, Keyring } from '../trust/keyring.js';
import type { NkeyPair } from '../trust/nkey.js';
import { Policy } from '../trust/policy.js';
import { originRequestOf, signOrigin } from '../trust/origin.js';
import { Proofs } from '../trust/proof.js';
import { TRUST_OFF, trustOn, type Trust } from '../trust/trust.js';

export interface NodeTrust {
  readonly keyring: Keyring;
  readonly proofs: Proofs;
  readonly policy: Policy;
  /** What delivery and the receiver use: the proofs, or none with -trust=off. */
  readonly trust: Trust;
}

/**
 * The node's keys, proofs and policy. Key events (a name pinned, a conflict, a key waiting for an
 * operator) are reported to central and written to the audit log.
 */
export function setUpTrust(
  cfg: ResolvedConfig,
  identity: NkeyPair,
  db: Db,
  audit: AuditLog,
  report: (text: string) => void,
  logger: Logger,
): NodeTrust {
  const keyring = new Keyring({
    store: new KeyStore(db),
    selfName: cfg.nodeName,
    selfKey: identity.publicKey,
    mode: cfg.trustNewKeys,
    newNamesPerMinute: cfg.newNamesPerMinute,
    centralName: cfg.centralNodeName,
    centralKey: cfg.centralPublicKey,
    onEvent: (ev) => {
      audit.event(`key-${ev.kind}`, { node: ev.name, fingerprint: fingerprint(ev.publicKey), text: ev.text });
      if (ev.kind === 'pinned' || ev.kind === 'accepted') logger.info({ node: ev.name, fingerprint: fingerprint(ev.publicKey) }, ev.text);
      else report(ev.text);
    },
  });
  const proofs = new Proofs({ name: cfg.nodeName, pair: identity }, keyring);
  const policy = new Policy(cfg.policyFile, cfg.centralNodeName);
  if (!cfg.trust) {
    logger.warn(
      '-trust=off: messages carry no proof of origin and no policy is checked; anyone who can publish on the broker commands this node',
    );
  }
  logger.info({ key: identity.publicKey, fingerprint: fingerprint(identity.publicKey), policy: policy.source }, 'node key and policy');
  return { keyring, proofs, policy, trust: cfg.trust ? trustOn(proofs) : TRUST_OFF };
}

/**
 * A request other nodes act on for this one carries this node's signature of it: a file copy
 * (the source sends the file to the destination for us) and a relayed message (the relay node
 * sends it on in its own name).
 */
export function withOrigin(msg: Message, proofs: Proofs): Message {
  if (msg.method === 'REQCopyFileFrom') return { ...msg, origin: signOrigin(proofs, originRequestOf(msg, msg.toNode, msg.method)) };
  if (msg.method === RELAY_INITIAL_METHOD) {
    return { ...msg, origin: signOrigin(proofs, originRequestOf(msg, msg.relayToNode ?? '', msg.relayOriginalMethod ?? '')) };
  }
  return msg;
}

/**
 * A message received before a restart, about to run after it: refused (the reason) when its
 * sender's key was revoked meanwhile, or when the policy in force now denies it.
 */
export function recheck(msg: Message, cfg: ResolvedConfig, t: NodeTrust): string | undefined {
  if (!cfg.trust || msg.fromNode === cfg.nodeName || msg.isReply) return undefined;
  const relayed = msg.relayFromNode !== undefined && msg.relayFromNode !== '' && msg.relayOriginalViaNode === msg.fromNode;
  const origin = relayed ? (msg.relayFromNode as string) : msg.fromNode;
  for (const node of new Set([msg.fromNode, origin])) {
    if (t.keyring.get(node)?.state === 'revoked') return `the key of ${node} was revoked since it was received`;
  }
  // Relays and copy parts were checked against the origin they carry; the rest is asked again.
  if (msg.method === 'REQRelay' || msg.method === 'REQCopyFileTo') return undefined;
  const startsOff = msg.method === 'REQOpProcessStart' && cfg.subscriberSwitches.get(msg.methodArgs[0] ?? '') === false;
  const d = t.policy.decide({
    from: origin,
    method: msg.method,
    methodArgs: msg.methodArgs,
    ...(relayed ? { via: msg.fromNode } : {}),
    ...(startsOff ? { strict: true } : {}),
  });
  return d.allow ? undefined : `the policy now denies it (rule: ${d.rule})`;
}
