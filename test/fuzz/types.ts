import type { FuzzContext } from './corpus.js';
import type { ProofMode } from './proofs.js';

/** The shapes of the fuzzer's inputs. */
export type TextPath = 'socket' | 'tcp' | 'http' | 'folder';
export type Path = TextPath | 'nats';
export const PATHS: readonly Path[] = ['socket', 'tcp', 'http', 'folder', 'nats'];
export type NodeRole = 'central' | 'target';

/**
 * A known-good message whose delivery is checked at the end. `strict`: it must be delivered
 * exactly once. Otherwise (it came after bytes that may have broken the document's structure)
 * at most once.
 */
export interface Canary {
  readonly tag: string;
  readonly kind: 'append' | 'cli';
  readonly strict: boolean;
  /** The node whose input took it (a cli canary's reply lands there). */
  readonly via: NodeRole;
}

/** How a stream client (socket, TCP) sends: half-close after the write, several slow writes, no half-close, or hang up early. */
export type Framing = 'halfclose' | 'chunks' | 'noclose' | 'abort';

/**
 * The operator token a TCP or HTTP input sends (its first line; Authorization: Bearer): the
 * right one, none, or a wrong one. An input without the right token is refused whole.
 */
export type Auth = 'token' | 'none' | 'wrong';

export interface HttpShape {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly chunked: boolean;
  /** Raw bytes sent instead of a well-formed request. */
  readonly raw?: Buffer;
}

export interface TextCase {
  readonly path: TextPath;
  readonly index: number;
  readonly node: NodeRole;
  readonly gen: string;
  readonly body: Buffer;
  /** Send `body` this many times in a row (inputs over the 256 MB cap, without holding them in memory). */
  readonly repeat: number;
  readonly framing: Framing;
  readonly canaries: Canary[];
  /** The document starts with a canary, which must be answered "accepted" at index 0. */
  readonly firstIsCanary: boolean;
  /** An operator request (socket only): answered with JSON lines of its own shape. */
  readonly control: boolean;
  readonly http?: HttpShape;
  /** TCP and HTTP: the token it sends (inputs with canaries always send the right one). */
  readonly auth?: Auth;
  readonly fileName?: string;
  /** Made again because steward would have accepted a harmful message from the first try: why. */
  readonly remade?: string;
}

export interface NatsCase {
  readonly path: 'nats';
  readonly index: number;
  readonly gen: string;
  readonly subject: string;
  readonly payload: Buffer;
  readonly headers: Record<string, string>;
  /** Published this many times (a re-sent canary must be ACKed "duplicate" and written once). */
  readonly sends: number;
  readonly canary?: Canary;
  /** How it is proven (proofs.ts), as which node name, and which of the mode's variants. */
  readonly proof: ProofMode;
  readonly signer: string;
  readonly variant: number;
  /** The subject an `other-subject` proof is made for. */
  readonly proofSubject?: string;
}

export type Case = TextCase | NatsCase;

export interface CaseOptions {
  readonly seed: number;
  readonly ctx: FuzzContext;
  readonly maxPayload: number;
  /** Inputs over the 256 MB cap are made for these indexes only (long runs). */
  readonly oversize: ReadonlySet<number>;
  readonly gzipBomb: () => Buffer;
}
