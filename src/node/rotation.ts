import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { ResolvedConfig } from '../config/load.js';
import { newMessage, type Message } from '../message/message.js';
import { KEY_ROTATE_METHOD } from '../methods/key-rotate.js';
import type { SendOutcome } from '../methods/method.js';
import { fingerprint, type Keyring } from '../trust/keyring.js';
import { pairFromSeed, type NkeyPair } from '../trust/nkey.js';
import { Proofs } from '../trust/proof.js';
import { parseRotation, rotationBytes } from '../trust/rotation.js';
import { ControlError } from './control.js';

export interface RotationDeps {
  readonly cfg: Pick<
    ResolvedConfig,
    'nodeName' | 'centralNodeName' | 'nkeySeedFile' | 'identityFile' | 'defaultAckTimeoutMs' | 'defaultRetries'
  >;
  readonly keyring: Keyring;
  readonly proofs: Proofs;
  readonly sendAndWait: (messages: Message[]) => Promise<SendOutcome[]>;
}

/**
 * `steward keys rotate`: a new key for this node, proven with the current one. Each node told
 * (central for a node; every node with a pinned key for central, or the `to` list) gets a
 * REQKeyRotate proven by the current key and signed by the new one; once every one has it, the
 * new key replaces identity.nk and proves this node's messages from then on.
 */
export async function rotateOwnKey(d: RotationDeps, to: readonly string[] | undefined): Promise<object> {
  const { nodeName, centralNodeName, nkeySeedFile, identityFile } = d.cfg;
  if (nkeySeedFile !== undefined) {
    throw new ControlError(
      `this node's key is its -nkeySeedFile seed (${nkeySeedFile}), also its broker key: make a new seed, put its public key in the broker's config and the seed in -nkeySeedFile, restart the node, then on central run steward keys revoke ${nodeName} and steward keys accept ${nodeName}`,
    );
  }
  const targets =
    to ??
    (nodeName === centralNodeName
      ? d.keyring
          .list()
          .filter((k) => k.state === 'pinned')
          .map((k) => k.name)
      : [centralNodeName]);
  const told = targets.filter((n) => n !== nodeName);
  if (told.length === 0) throw new ControlError('no node to tell: no key is pinned here yet');
  const oldKey = d.proofs.publicKey;
  const next = pairFromSeed(randomBytes(32));
  const nextFile = `${identityFile}.next`;
  fs.writeFileSync(nextFile, `${next.seedText}\n`, { mode: 0o600 });
  const data = JSON.stringify({ newKey: next.publicKey, sig: Proofs.signWith(next, rotationBytes(nodeName, oldKey, next.publicKey)) });
  const outcomes = await d.sendAndWait(
    told.map((node) =>
      newMessage({
        toNode: node,
        fromNode: nodeName,
        method: KEY_ROTATE_METHOD,
        data: [data],
        ackTimeoutMs: d.cfg.defaultAckTimeoutMs,
        retries: d.cfg.defaultRetries,
      }),
    ),
  );
  const failed = outcomes.filter((o) => o.outcome !== 'delivered');
  if (failed.length > 0) {
    fs.rmSync(nextFile, { force: true });
    throw new ControlError(
      `the key was not rotated: ${failed.map((o, i) => `${told[outcomes.indexOf(o)] ?? i}: ${o.detail}`).join('; ')} (the nodes that got the new key still accept the old one for 7 days; run it again once they are reachable)`,
    );
  }
  fs.renameSync(nextFile, identityFile);
  switchTo(d, next);
  return { rotated: true, publicKey: next.publicKey, fingerprint: fingerprint(next.publicKey), previous: fingerprint(oldKey), told };
}

function switchTo(d: RotationDeps, pair: NkeyPair): void {
  d.proofs.rotateTo(pair);
  d.keyring.setSelfKey(pair.publicKey);
}

/** A REQKeyRotate received from `node`: its new key, when the new key signed the change from the key bound now. */
export async function peerRotated(keyring: Keyring, proofs: Proofs, node: string, data: readonly string[]): Promise<string | undefined> {
  const claim = parseRotation(data);
  if (claim === undefined) return 'its data is not a key rotation';
  const bound = keyring.keyOf(node);
  if (bound === undefined) return `${node} has no pinned key here`;
  if (!proofs.verifyBytes(claim.newKey, rotationBytes(node, bound, claim.newKey), claim.sig))
    return 'the new key did not sign the rotation';
  await keyring.rotate(node, claim.newKey);
  return undefined;
}
