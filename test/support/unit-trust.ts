import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { newMessage, type Message, type MessageDraft } from '../../src/message/message.js';
import { relayInitial, relayOnward, relayToVia } from '../../src/message/relay.js';
import { Db } from '../../src/store/db.js';
import { KeyStore } from '../../src/store/keys.js';
import type { OutboxRecord } from '../../src/store/outbox.js';
import { Keyring, type KeyEvent } from '../../src/trust/keyring.js';
import { pairFromSeed, type NkeyPair } from '../../src/trust/nkey.js';
import { originRequestOf, signOrigin } from '../../src/trust/origin.js';
import { Proofs } from '../../src/trust/proof.js';

/** Fixtures of the unit tests of origins, replies and admission (test/unit/trust-*.test.ts). */

export const NOW = Date.now();

/** signBytes and verifyBytes need no keyring. */
const NO_KEYRING = { keyOf: () => undefined, check: () => ({ ok: true }) } as unknown as Keyring;

export interface Identity {
  readonly name: string;
  readonly key: string;
  readonly proofs: Proofs;
}

/** A node's own key and the Proofs that sign with it. */
export function identity(name: string): Identity {
  const pair = pairFromSeed(randomBytes(32));
  return { name, key: pair.publicKey, proofs: new Proofs({ name, pair }, NO_KEYRING) };
}

export interface KeyedNode {
  readonly name: string;
  /** Changed by a test of key rotation. */
  pair: NkeyPair;
  readonly keyring: Keyring;
  readonly proofs: Proofs;
  /** What the keyring reported (pinned, conflict, ...). */
  readonly events: KeyEvent[];
  /** Closes its store and removes its folder. */
  close(): void;
}

/** A node with its own key and a keyring over a store of its own in a new temp folder (tofu). */
export function keyedNode(name: string): KeyedNode {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `steward-proof-${name}-`));
  const db = new Db(dir);
  const pair = pairFromSeed(randomBytes(32));
  const events: KeyEvent[] = [];
  const keyring = new Keyring({
    store: new KeyStore(db),
    selfName: name,
    selfKey: pair.publicKey,
    mode: 'tofu',
    centralName: 'central',
    onEvent: (ev) => events.push(ev),
  });
  return {
    name,
    pair,
    keyring,
    events,
    proofs: new Proofs({ name, pair }, keyring),
    close: () => {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A message for node2 from central (REQCliCommand), created at NOW, with `draft` over it. */
export const msg = (draft: Partial<MessageDraft> = {}): Message =>
  newMessage({ toNode: 'node2', fromNode: 'central', method: 'REQCliCommand', ackTimeoutMs: 5_000, retries: 1, ...draft }, NOW);

/** The `sent` lookup of a node whose outbox holds `ms` (delivered). */
export const sentOf =
  (...ms: Message[]) =>
  (id: string): OutboxRecord | undefined => {
    const m = ms.find((x) => x.id === id);
    if (m === undefined) return undefined;
    return {
      id: m.id,
      toNode: m.toNode,
      method: m.method,
      state: 'delivered',
      attempts: 1,
      createdMs: m.createdMs,
      finishedMs: NOW,
      lastError: null,
      message: m,
    };
  };

/**
 * node1's `REQCliCommand uptime` for node2, relayed via central and signed by `origin` (node1's
 * identity): the REQRelay central gets from node1 and the message node2 gets from central.
 */
export function relayed(origin: Identity, extra: Partial<MessageDraft> = {}): { toVia: Message; onward: Message } {
  const given = msg({ fromNode: 'node1', methodArgs: ['uptime'], replyMethod: 'REQToFile', relayViaNode: 'central', ...extra });
  const initial = relayInitial(given, 'node1') as Message;
  const signed = { ...initial, origin: signOrigin(origin.proofs, originRequestOf(initial, 'node2', 'REQCliCommand')) };
  const toVia = relayToVia(signed, 'node1');
  return { toVia, onward: relayOnward(toVia, 'central') };
}
