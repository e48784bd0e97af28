import { createHash, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, type KeyObject } from 'node:crypto';

/**
 * The X25519 side of a node's Ed25519 identity, so two nodes that know each other's public keys
 * share a MAC key with no handshake (RFC 7748 agreement on keys converted as libsodium's
 * crypto_sign_ed25519_pk_to_curve25519 and _sk_to_curve25519 do): messages queued for a node
 * that is offline are authenticated as cheaply as the others.
 */

/** The field prime of Curve25519, 2^255 - 19. */
const P = 2n ** 255n - 19n;

function modPow(base: bigint, exp: bigint): bigint {
  let result = 1n;
  let b = ((base % P) + P) % P;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

/** The X25519 private key of an Ed25519 seed: the first half of SHA-512(seed) (X25519 clamps it). */
export function x25519PrivateOf(seed: Uint8Array): KeyObject {
  const scalar = createHash('sha512').update(seed).digest().subarray(0, 32);
  return createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), scalar]),
    format: 'der',
    type: 'pkcs8',
  });
}

/**
 * The X25519 public key of a raw Ed25519 public key: the Montgomery u = (1 + y) / (1 - y) of its
 * Edwards y. Undefined for a key that is not a point (y = 1, the identity, or y >= p).
 */
export function x25519PublicOf(edPublic: Uint8Array): KeyObject | undefined {
  if (edPublic.length !== 32) return undefined;
  const le = Buffer.from(edPublic);
  le[31] = (le[31] as number) & 0x7f; // the top bit is the sign of x
  const y = BigInt(`0x${Buffer.from(le).reverse().toString('hex')}`);
  if (y >= P || y === 1n) return undefined;
  const u = ((1n + y) * modPow(1n - y, P - 2n)) % P;
  const raw = Buffer.from(u.toString(16).padStart(64, '0'), 'hex').reverse();
  return createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), raw]), format: 'der', type: 'spki' });
}

/**
 * The MAC key two nodes share: HKDF-SHA256 of their X25519 agreement, bound to both public keys
 * (in a fixed order, so both sides derive the same key).
 */
export function pairKey(ownPrivate: KeyObject, ownEdPublic: Uint8Array, peerEdPublic: Uint8Array): Buffer | undefined {
  const peer = x25519PublicOf(peerEdPublic);
  if (peer === undefined) return undefined;
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: ownPrivate, publicKey: peer });
  } catch {
    return undefined; // OpenSSL refuses an agreement with a low-order point itself
  }
  // An all-zero agreement comes from a low-order peer key: refused, as RFC 7748 advises.
  if (shared.every((b) => b === 0)) return undefined;
  const [a, b] = [Buffer.from(ownEdPublic), Buffer.from(peerEdPublic)].sort((x, y) => Buffer.compare(x, y)) as [Buffer, Buffer];
  return Buffer.from(hkdfSync('sha256', shared, 'steward pair key v1', Buffer.concat([a, b]), 32));
}
