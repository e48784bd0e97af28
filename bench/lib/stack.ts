import net from 'node:net';
import path from 'node:path';
import { StewardProcess } from '../../test/support/steward.js';
import type { BenchEnv, Sent } from './env.js';
import { sendTimed } from './env.js';
import { PEER_NAMES, PeerProcess } from './peer.js';

/** Ours (bin/steward) or the peer (the Go original, STEWARD_PEER_BIN). */
export type Kind = 'ours' | 'peer';
export type Role = 'central' | 'ship1' | 'idle1';

/** What the benchmarks use of a node, of either kind (test/support's StewardProcess has it). */
export interface BenchNode {
  readonly opts: { readonly name: string };
  readonly dir: string;
  readonly dataDir: string;
  readonly socketPath: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly stderr: string;
  readErrorLog(): string;
}

/** The figures of a benchmark for ours and, in peer mode, for the peer (or why the peer's part failed). */
export interface PerKind<T> {
  ours: T;
  peer?: T | PeerFailure | undefined;
}

/** A peer's benchmark that could not finish: the run goes on with ours, the report says why. */
export interface PeerFailure {
  failed: string;
}

export function isFailure<T extends object>(x: T | PeerFailure | undefined): x is PeerFailure {
  return x !== undefined && 'failed' in x;
}

/** A kind of steward in a benchmark: how its nodes start and stop, and how input reaches them. */
export interface Stack {
  readonly kind: Kind;
  /** Node names of this kind: ours are central, ship1, idle1; the peer's gcentral, gship1, gidle1. */
  name(role: Role): string;
  /** Starts `<bench>`'s central and ship1 (ours: extra flags for ship1); resolves when both can be sent to. */
  startPair(bench: string, shipFlags?: string[]): Promise<{ central: BenchNode; ship1: BenchNode }>;
  /** A node that is sent nothing (B6). */
  startIdle(bench: string): Promise<BenchNode>;
  /** Starts a stopped node again in its folder; resolves when it can be sent to again. */
  restart(node: BenchNode): Promise<void>;
  stop(...nodes: BenchNode[]): Promise<void>;
  /**
   * Writes a message document to a node's socket. Ours: in one write, answered by a line per
   * message. The peer answers nothing, and its socket reader corrupts input that arrives in
   * more than one read (it appends whole 1500-byte buffers after short reads; go-baseline.md):
   * it gets the same messages as consecutive connections of at most PEER_CHUNK_BYTES each, one
   * after the other (the next once it has read and closed the one before), so it reads each
   * whole. The clock (`writtenAt`) starts before the first write and the answer is in once the
   * last connection has closed.
   */
  send(node: BenchNode, messages: readonly Record<string, unknown>[]): Promise<Sent>;
  /** Whether the input answers a line per message, so that acceptance can be checked. */
  readonly answers: boolean;
  /** Fields that keep a message until its node is back (B5): ours `retries: -1`. */
  readonly untilDelivered: Record<string, unknown>;
  /** What /proc/<pid>/comm reads for one of its node processes. */
  readonly comm: readonly string[];
}

/**
 * A second set of our nodes beside the first, on the same broker: other names (`<prefix>central`,
 * ...) and flags of their own. In the trust comparison it takes the peer's place with
 * `-trust=off`, so that B1's samples and B3's rounds alternate between trust on and off in one run.
 */
export interface OursVariant {
  readonly prefix: string;
  readonly flags: readonly string[];
}

/** ours: the real bin/steward through BenchEnv (its extra flags, e.g. -trust=off, included). */
export function oursStack(env: BenchEnv, variant?: OursVariant): Stack {
  const p = variant?.prefix ?? '';
  const vflags = variant?.flags ?? [];
  const names = { central: `${p}central`, ship1: `${p}ship1`, idle1: `${p}idle1` };
  const ours = (n: BenchNode): StewardProcess => {
    if (!(n instanceof StewardProcess)) throw new Error(`${n.opts.name} is not one of our nodes`);
    return n;
  };
  return {
    kind: variant === undefined ? 'ours' : 'peer',
    name: (role) => names[role],
    async startPair(bench, shipFlags = []) {
      const [central, ship1] = await Promise.all([
        env.startNode(names.central, `${bench}-${names.central}`, [...vflags], undefined, names.central),
        env.startNode(
          names.ship1,
          `${bench}-${names.ship1}`,
          [...vflags, '-startSubREQErrorLog=false', ...shipFlags],
          undefined,
          names.central,
        ),
      ]);
      return { central, ship1 };
    },
    startIdle: (bench) =>
      env.startNode(names.idle1, `${bench}-${names.idle1}`, [...vflags, '-startSubREQErrorLog=false'], undefined, names.central),
    restart: (node) => env.restartNode(ours(node)),
    stop: (...nodes) => env.stopNodes(...nodes.map(ours)),
    send: (node, messages) => sendTimed(node.socketPath, JSON.stringify(messages)),
    answers: true,
    untilDelivered: { retries: -1 },
    // Node 24 names its main thread, which is what comm shows: "MainThread" (earlier: "node").
    comm: ['node', 'MainThread'],
  };
}

/** At most this many bytes per connection to the peer's socket: one kernel buffer of a unix socket, read whole. */
export const PEER_CHUNK_BYTES = 32 * 1024;

/**
 * The Go original (`bin`) on the run's broker, as gcentral, gship1 and gidle1 in folders
 * `<bench>-<name>` of the run: started one after the other (a node's first hello must find
 * central subscribed), stopped at env.close() at the latest.
 */
export function peerStack(env: BenchEnv, bin: string): Stack {
  const live = new Set<PeerProcess>();
  const centralOf = new Map<PeerProcess, PeerProcess>();
  env.atClose(async () => void (await Promise.all([...live].map((p) => p.stop()))));
  const start = async (name: string, bench: string, central?: PeerProcess): Promise<PeerProcess> => {
    const p = new PeerProcess({
      bin,
      name,
      central: PEER_NAMES.central,
      brokerUrl: `127.0.0.1:${(await env.nats()).port}`,
      dir: path.join(env.root, `${bench}-${name}`),
      errorLog: name === PEER_NAMES.central,
    });
    live.add(p);
    await p.start(central ?? (name === PEER_NAMES.central ? p : undefined));
    if (central !== undefined) centralOf.set(p, central);
    env.note(p.pid ?? 0, `steward-go ${name} (${bench})`);
    return p;
  };
  const asPeer = (n: BenchNode): PeerProcess => {
    if (!(n instanceof PeerProcess)) throw new Error(`${n.opts.name} is not a peer node`);
    return n;
  };
  return {
    kind: 'peer',
    name: (role) => PEER_NAMES[role],
    async startPair(bench) {
      const central = await start(PEER_NAMES.central, bench);
      const ship1 = await start(PEER_NAMES.ship1, bench, central);
      return { central, ship1 };
    },
    startIdle: (bench) => start(PEER_NAMES.idle1, bench),
    async restart(node) {
      const p = asPeer(node);
      live.add(p);
      await p.start(centralOf.get(p) ?? p);
      env.note(p.pid ?? 0, `steward-go ${p.opts.name} (${path.basename(p.dir)}, restarted)`);
    },
    async stop(...nodes) {
      await Promise.all(
        nodes.map(async (n) => {
          const p = asPeer(n);
          live.delete(p);
          await p.stop();
        }),
      );
    },
    send: (node, messages) => sendInPieces(node.socketPath, messages, PEER_CHUNK_BYTES),
    answers: false,
    // Its `retries` counts attempts of ACKTimeout (10 s) each; it has no "until delivered".
    untilDelivered: { retries: 1000 },
    comm: ['steward-go'],
  };
}

/** JSON arrays of whole messages, each at most `maxBytes` (a larger single message goes alone). */
export function pieces(messages: readonly Record<string, unknown>[], maxBytes: number): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let size = 2;
  for (const m of messages) {
    const s = JSON.stringify(m);
    const bytes = Buffer.byteLength(s);
    if (cur.length > 0 && size + bytes + 1 > maxBytes) {
      out.push(`[${cur.join(',')}]`);
      cur = [];
      size = 2;
    }
    cur.push(s);
    size += bytes + 1;
  }
  if (cur.length > 0) out.push(`[${cur.join(',')}]`);
  return out;
}

/** See Stack.send: consecutive connections, each written once and half-closed, the next after the peer closed it. */
async function sendInPieces(socketPath: string, messages: readonly Record<string, unknown>[], maxBytes: number): Promise<Sent> {
  const chunks = pieces(messages, maxBytes);
  const connect = (): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const c = net.connect(socketPath);
      c.once('connect', () => resolve(c));
      c.once('error', reject);
    });
  const closed = (c: net.Socket): Promise<void> =>
    new Promise((resolve, reject) => {
      c.on('error', reject);
      c.resume(); // it writes nothing back; read to see its end
      c.once('close', () => resolve());
    });
  const first = await connect();
  const writtenAt = performance.now();
  const answer = (async () => {
    let c = first;
    for (const [i, chunk] of chunks.entries()) {
      if (i > 0) c = await connect();
      const done = closed(c);
      c.end(chunk);
      await done;
    }
    return { lines: [], at: performance.now() };
  })();
  answer.catch(() => {}); // a caller that gave up waiting must not crash the run later
  return { writtenAt, answer, refused: () => undefined };
}

/**
 * Runs a benchmark's turns for each kind, ours and the peer alternating (ours first in even
 * rounds, the peer first in odd ones, so neither always runs on the machine the other just
 * warmed or loaded). A failure of ours ends the benchmark (thrown); a failure of the peer ends
 * only the peer's part: it is kept in `failures` and the peer gets no more turns.
 */
export class Turns {
  readonly failures = new Map<Kind, string>();

  constructor(
    readonly stacks: readonly Stack[],
    private readonly log: (s: string) => void = () => {},
  ) {}

  /** The stacks still running, in this round's order. */
  order(round: number): Stack[] {
    const live = this.stacks.filter((s) => !this.failures.has(s.kind));
    return round % 2 === 0 ? live : [...live].reverse();
  }

  async each(round: number, fn: (s: Stack) => Promise<void>): Promise<void> {
    for (const s of this.order(round)) {
      try {
        await fn(s);
      } catch (err) {
        if (s.kind === 'ours') throw err;
        const why = err instanceof Error ? err.message : String(err);
        this.failures.set(s.kind, why.slice(0, 2000));
        this.log(`the peer failed (its part of this benchmark ends here): ${why.slice(0, 500)}`);
      }
    }
  }

  /** The peer's outcome: its figures, or why it failed; undefined when it did not run. */
  peer<T>(make: () => T): T | PeerFailure | undefined {
    if (!this.stacks.some((s) => s.kind === 'peer')) return undefined;
    const why = this.failures.get('peer');
    if (why !== undefined) return { failed: why };
    try {
      return make();
    } catch (err) {
      return { failed: err instanceof Error ? err.message : String(err) };
    }
  }
}
