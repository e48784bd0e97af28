import type { Prng } from './prng.js';

/** What can strike during an iteration. */
export const FAULT_KINDS = {
  /** kill -9 of a node that sends commands, restarted after a while. */
  killSender: 'kill-sender',
  /** kill -9 of a node that runs commands, restarted after a while. */
  killReceiver: 'kill-receiver',
  /** kill -9 of a sender and a receiver at the same moment, both restarted. */
  killBoth: 'kill-both',
  /** The broker stopped (SIGTERM or SIGKILL) and started again on the same port. */
  brokerRestart: 'broker-restart',
  /** Cluster runs: one of the three servers killed, restarted after a while. */
  serverLoss: 'server-loss',
  /** The link between a node and the broker drops every connection and refuses new ones. */
  linkCut: 'link-cut',
  /** The link delays every chunk, both ways. */
  linkSlow: 'link-slow',
  /** The link holds all traffic (connections stay open), then lets it through at once. */
  linkStall: 'link-stall',
  /** A receiving node stopped for longer than the retry window of the finite commands sent to it. */
  offlineLong: 'offline-long',
  /** kill -9 of a receiving node's spawn helper (the process that forks its commands under load), when one runs. */
  killHelper: 'kill-helper',
} as const;
export type FaultKind = (typeof FAULT_KINDS)[keyof typeof FAULT_KINDS];

export interface Fault {
  readonly kind: FaultKind;
  /** When it strikes, from the start of the iteration. */
  readonly atMs: number;
  /** How long it lasts: down time, cut, stall or slow period. */
  readonly durationMs: number;
  /** The nodes it strikes (kills, links, offline); empty for broker faults. */
  readonly nodes: readonly string[];
  /** server-loss: which server of the cluster. */
  readonly server?: number;
  /** broker-restart: SIGKILL instead of SIGTERM. */
  readonly hard?: boolean;
  /** link-slow: added to every chunk. */
  readonly delayMs?: number;
}

/** A flow of commands: `from` sends, `to` runs them and replies to `from`. */
export interface Flow {
  readonly from: string;
  readonly to: string;
}

/** Commands written to a node's socket in one go. */
export interface Batch {
  readonly atMs: number;
  readonly flow: number;
  readonly count: number;
  /** Finite retries (may legitimately fail with a max-retries line at central) or retries -1. */
  readonly finite: boolean;
  readonly ackTimeoutS: number;
  /**
   * How long each command runs (ms; 0: it only echoes). Long ones are what a kill of their node
   * or of its spawn helper can catch in the middle.
   */
  readonly runMs: number;
}

export interface IterationPlan {
  readonly faults: readonly Fault[];
  readonly batches: readonly Batch[];
}

/** The shape of a run: what the schedule is drawn from. */
export interface Shape {
  readonly cluster: boolean;
  /** Batches are sent in [0, windowMs]; faults strike in [0, 0.8 windowMs] (later when serialised behind another on the same target). */
  readonly windowMs: number;
  readonly flows: readonly Flow[];
  /** Nodes that send commands, and nodes that run them (a node can be both). */
  readonly senders: readonly string[];
  readonly receivers: readonly string[];
  readonly nodes: readonly string[];
  readonly servers: number;
}

/** Finite commands: ACKTimeout 1 s, 2 re-sends: a 3 s retry window. */
export const FINITE = { ackTimeoutS: 1, retries: 2 } as const;
export const FINITE_WINDOW_MS = FINITE.ackTimeoutS * (FINITE.retries + 1) * 1000;

/** Time a restart takes, kept free on a target before the next fault on it. */
const RESTART_ALLOWANCE_MS = 1500;

/** 0-30 s, mostly short: 70 % under 5 s, 30 % between 5 and 30 s. */
function outageMs(r: Prng): number {
  return r.chance(0.7) ? r.between(0, 5000) : r.between(5000, 30_000);
}

/** Draws one iteration: 1-3 faults and 5-10 batches of 10-40 commands. */
export function drawIteration(r: Prng, shape: Shape): IterationPlan {
  const weights: Record<FaultKind, number> = {
    'kill-sender': 14,
    'kill-receiver': 14,
    'kill-both': 10,
    'broker-restart': shape.cluster ? 0 : 12,
    'server-loss': shape.cluster ? 14 : 0,
    'link-cut': 14,
    'link-slow': 12,
    'link-stall': 12,
    'offline-long': 12,
    'kill-helper': 8,
  };
  const count = Number(r.weighted({ 1: 4, 2: 4, 3: 2 }));
  const busyUntil = new Map<string, number>();
  const faults: Fault[] = [];
  const batches: Batch[] = [];
  const flowTo = (to: string): number => {
    const i = shape.flows.findIndex((f) => f.to === to);
    if (i < 0) throw new Error(`no flow to ${to}`);
    return i;
  };

  for (let i = 0; i < count; i++) {
    const kind = r.weighted(weights);
    const drawnAt = r.between(0, shape.windowMs * 0.8);
    let nodes: string[] = [];
    let durationMs: number;
    const extra: { server?: number; hard?: boolean; delayMs?: number } = {};
    let resources: string[];
    switch (kind) {
      case 'kill-sender':
      case 'kill-receiver': {
        const from = kind === 'kill-sender' ? shape.senders : shape.receivers;
        nodes = [r.pick(from)];
        durationMs = r.between(200, 4000);
        resources = nodes.map((n) => `node:${n}`);
        break;
      }
      case 'kill-helper':
        nodes = [r.pick(shape.receivers)];
        durationMs = 0; // the next commands start a new helper
        resources = nodes.map((n) => `node:${n}`);
        break;
      case 'kill-both': {
        const sender = r.pick(shape.senders);
        const receiver = r.pick(shape.receivers.filter((n) => n !== sender));
        nodes = [sender, receiver];
        durationMs = r.between(200, 4000);
        resources = nodes.map((n) => `node:${n}`);
        break;
      }
      case 'broker-restart':
        durationMs = r.between(0, 5000);
        extra.hard = r.chance(0.5);
        resources = ['broker'];
        break;
      case 'server-loss':
        extra.server = r.int(0, shape.servers - 1);
        durationMs = r.between(1000, 10_000);
        // One server at a time: losing two of three would be another fault (loss of quorum is not ours to test).
        resources = ['broker'];
        break;
      case 'link-cut':
      case 'link-stall':
        nodes = [r.pick(shape.nodes)];
        durationMs = outageMs(r);
        resources = nodes.map((n) => `link:${n}`);
        break;
      case 'link-slow':
        nodes = [r.pick(shape.nodes)];
        durationMs = r.between(2000, 10_000);
        extra.delayMs = r.between(0, 2000);
        resources = nodes.map((n) => `link:${n}`);
        break;
      case 'offline-long':
        nodes = [r.pick(shape.receivers)];
        durationMs = FINITE_WINDOW_MS + r.between(2000, 6000);
        resources = nodes.map((n) => `node:${n}`);
        break;
    }
    // Two faults on the same target run one after the other (a node cannot be killed twice at once).
    const atMs = Math.max(drawnAt, ...resources.map((k) => (busyUntil.get(k) ?? -Infinity) + 500));
    for (const k of resources) busyUntil.set(k, atMs + durationMs + RESTART_ALLOWANCE_MS);
    faults.push({ kind, atMs, durationMs, nodes, ...extra });
    if (kind === 'offline-long') {
      // While it is away, both kinds of commands are sent to it: the finite ones outlive their
      // retry window and must be reported failed, the retries -1 ones must all arrive.
      const node = nodes[0] as string;
      batches.push({ atMs: atMs + 500, flow: flowTo(node), count: r.int(5, 20), finite: true, ackTimeoutS: FINITE.ackTimeoutS, runMs: 0 });
      batches.push({ atMs: atMs + 600, flow: flowTo(node), count: r.int(10, 30), finite: false, ackTimeoutS: r.int(2, 5), runMs: 0 });
    }
  }

  const nBatches = r.int(5, 10);
  for (let i = 0; i < nBatches; i++) {
    const finite = r.chance(0.2);
    batches.push({
      atMs: r.between(0, shape.windowMs),
      flow: r.int(0, shape.flows.length - 1),
      count: r.int(10, 40),
      finite,
      ackTimeoutS: finite ? FINITE.ackTimeoutS : r.int(2, 5),
      runMs: r.chance(0.3) ? Math.round(r.between(300, 1500)) : 0,
    });
  }
  batches.sort((a, b) => a.atMs - b.atMs);
  faults.sort((a, b) => a.atMs - b.atMs);
  return { faults, batches };
}

/** One line for a fault, e.g. `link-cut(ship1 4.2s @1.3s)`. */
export function describeFault(f: Fault): string {
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
  const what = [
    ...f.nodes,
    ...(f.server === undefined ? [] : [`server ${'ABC'[f.server] ?? f.server}`]),
    ...(f.hard === undefined ? [] : [f.hard ? 'SIGKILL' : 'SIGTERM']),
    ...(f.delayMs === undefined ? [] : [`+${Math.round(f.delayMs)}ms`]),
  ].join(' ');
  return `${f.kind}(${what}${what === '' ? '' : ' '}${s(f.durationMs)} @${s(f.atMs)})`;
}
