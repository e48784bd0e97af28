import type { B0Result } from '../b0-floor.js';
import type { B1Result } from '../b1-roundtrip.js';
import type { B2Result } from '../b2-cmd-burst.js';
import type { B3Result } from '../b3-burst.js';
import type { B4Result } from '../b4-fanout.js';
import type { B4Paired } from '../b4-trust.js';
import type { B5Result } from '../b5-backlog.js';
import type { B6Result } from '../b6-idle.js';
import type { B7Result } from '../b7-wire.js';
import { isFailure, type PeerFailure } from './stack.js';

/** What one run produced; written as JSON and rendered as the table. */
export interface RunReport {
  date: string;
  command: string;
  quick: boolean;
  ids: string[];
  machine: { nproc: number; cpuModel: string; node: string; natsServer: string; kernel: string };
  /** The code measured: HEAD and the files under src/ that differ from it (dist/ is built from the working tree). */
  code: { commit: string; dirtySrc: string[] };
  /** os.loadavg() at the start and at the end, and the 1-minute figure every 5 s during the run. */
  loadavg: { start: number[]; end: number[]; during?: { min: number; median: number; max: number } | undefined };
  /** CPU time taken by the hypervisor for others during the run (steal in /proc/stat), as a share of the machine's; absent in older runs. */
  stealShare?: number | undefined;
  wallSeconds: number;
  results: {
    B0?: B0Result;
    B1?: B1Result;
    B2?: B2Result;
    B3?: B3Result;
    B4?: B4Result;
    B5?: B5Result;
    B6?: B6Result;
    B7?: B7Result;
    /** The same with every node at -trust=off (`--trust-compare`). */
    trustOff?: {
      B1?: B1Result;
      B3?: B3Result;
      B7?: B7Result;
      /** B4 with two fleets up at once, their rounds alternating (b4-trust.ts). */
      B4Paired?: B4Paired;
      /** Trust on, alternating with the trust-off figures above in the same pass (B1, B3). */
      B1On?: B1Result;
      /** B1's passes: p50 on and off, with the trust-on pair started first or second (ms). */
      B1Orders?: { onFirst: boolean; on: number; off: number }[];
      B3On?: B3Result;
      /** B3's passes of fresh pairs: the median msg/s of each setting, with the trust-on pair started first or second. */
      B3Passes?: { onFirst: boolean; on: number; off: number }[];
    };
    /** Peer mode (STEWARD_PEER_BIN): the Go original measured in the same run, interleaved with ours. */
    peer?: PeerResults;
  };
  table: Row[];
  /** The targets, each judged on this run's figures (not judged in quick mode: other sizes). */
  targets: TargetRow[];
}

export interface Row {
  id: string;
  measure: string;
  ours: string;
  floor: string;
  go: string;
  target: string;
}

export interface TargetRow {
  id: string;
  target: string;
  measured: string;
  /** undefined: not judged (quick mode, or the benchmark did not run). */
  met: boolean | undefined;
}

/** The Go original's figures of a peer-mode run (absent: its benchmark was not asked for). */
export interface PeerResults {
  /** The binary that ran (STEWARD_PEER_BIN). */
  bin: string;
  B1?: B1Result | PeerFailure | undefined;
  B2?: B2Result | PeerFailure | undefined;
  B3?: B3Result | PeerFailure | undefined;
  B5?: B5Result | PeerFailure | undefined;
  B6?: B6Result | PeerFailure | undefined;
}

/**
 * The original Go Steward (7004d89) on the same kind of machine, from
 * /work/shared/reference/go-baseline.md. Quoted, not measured here: shown when the run has no
 * peer (without STEWARD_PEER_BIN).
 */
export const GO = {
  b1p50: '8.2 ms (median)',
  b1p99: 'p90 ~10 ms (no p99 given)',
  b2rate: '~245 msg/s (median 4.1 s of 7 runs, 2.9-10.3 s)',
  b2order: 'out of order',
  b2cpuNode: '1.8 s (per 1000 CLI round trips)',
  b2cpuNats: '0.44 s (per 1000 CLI round trips)',
  b3rate: '~500 msg/s (1000 msgs, 2.0 s)',
  b5: 'lost once retries x ACKTimeout are spent (no figure)',
  peakRss: '22-28 MB',
  idleRss: '12.7 MB',
};

/** The targets (issue 6). */
export const TARGETS = {
  b1p50Ms: 5,
  b1FloorRatio: 1.3,
  /** B2 msg/s as a share of the spawn rate at the executor's concurrency. */
  b2SpawnShare: 0.8,
  b3MsgPerSec: 10_000,
  b4Nodes: 1000,
  b4LastReplyMs: 2000,
  /** Issue 19: a job's end, and a rollout of 10 batches, at most this times the plain fan-outs. */
  b4JobRatio: 1.1,
  b4JobViewMs: 200,
  /** Issue 16: what the proofs and the policy may cost. */
  trustB1Ms: 0.3,
  trustShare: 0.9,
  b5Messages: 10_000,
  b5DrainSeconds: 5,
  idleRssMB: 50,
  /** Issue 18 (same run, trust on): B1 p50 at most this times the Go original's (peer mode)... */
  b1PeerRatio: 0.9,
  /** ...the first burst of a freshly started fleet... */
  b3FirstBurstMsgPerSec: 10_000,
  /** ...and an idle node's RSS. */
  idleRss18MB: 45,
  /** B7: -compression=z at least this much below JSON uncompressed. */
  b7ZReduction: 0.4,
};

export const ms = (v: number): string => (v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(1)} ms`);
export const sec = (v: number): string => `${v.toFixed(2)} s`;
export const mb = (v: number): string => `${v.toFixed(1)} MB`;
export const int = (v: number): string => Math.round(v).toLocaleString('en-US');
export const pct = (v: number): string => `${Math.round(v * 100)}%`;
export const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'not judged (quick)' : ok ? 'met' : '**missed**');

/** What the row builders share: the rows so far, and the judge of targets. */
export interface Ctx {
  readonly rows: Row[];
  readonly quick: boolean;
  /** Records a target with this run's figure and returns the cell text (not judged in quick mode). */
  readonly judge: (id: string, target: string, measured: string, ok: boolean) => string;
}

/**
 * The Go column of a row: the quoted reference (`fixed`) when the run has no peer; in peer mode
 * the peer's figure of this run (`measured`), or, when the peer's part failed, why (on the
 * benchmark's first row; '—' on the others).
 */
export function goCell<T extends object>(
  peer: T | PeerFailure | undefined,
  fixed: string,
  measured: (p: T) => string,
  first = false,
): string {
  if (peer === undefined) return fixed;
  if (isFailure(peer)) return first ? `the peer failed: ${peer.failed.slice(0, 300)}` : '—';
  return measured(peer);
}

/** ours / peer of one figure: below 1 for a time or a size means ours is lower, above 1 for a rate that ours is faster. */
export const vs = (ours: number, peer: number): string => `ours/peer ${(ours / peer).toFixed(2)}x`;

/** The figures as a markdown table; in peer mode the Go column holds this run's peer figures. */
export function markdownTable(rows: readonly Row[], peer = false): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const go = peer ? 'Go original (this run); ours/peer' : 'Go original';
  const out = [`| id | measure | ours | floor / ratio | ${go} | target |`, '|---|---|---|---|---|---|'];
  for (const r of rows) out.push(`| ${[r.id, r.measure, r.ours, r.floor, r.go, r.target].map(esc).join(' | ')} |`);
  return out.join('\n');
}

export function targetsTable(rows: readonly TargetRow[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const out = ['| id | target (issue 6 unless another is named) | this run | verdict |', '|---|---|---|---|'];
  for (const r of rows) out.push(`| ${[r.id, r.target, r.measured, verdict(r.met)].map(esc).join(' | ')} |`);
  return out.join('\n');
}
