/** What the daemon's API answers (src/web/api.ts, docs/operator-protocol.md). */

export interface NodeRow {
  node: string;
  lastSeenMs: number | null;
  online: boolean;
  labels: Record<string, string>;
  key: string;
  pending: number;
}

export interface NodesAnswer {
  now: number;
  helloIntervalMs: number;
  nodes: NodeRow[];
}

export interface Job {
  id: string;
  state: string;
  createdMs: number;
  finishedMs: number | null;
  reason: string | null;
  schedule: string | null;
  batch: number;
  nextBatchMs: number | null;
  rollout: { batch: number; batchWaitMs: number; maxFailures?: number } | null;
  method: string;
  methodArgs: string[];
  selector: { names: string[] | '*'; where: Record<string, string> };
  targets: number;
  counts?: Record<string, number>;
}

export interface Schedule {
  id: string;
  state: string;
  everyMs: number;
  nextRunMs: number;
  runs: number;
  lastJob: string | null;
  method: string;
  methodArgs: string[];
  selector: { names: string[] | '*'; where: Record<string, string> };
}

export interface Target {
  node: string;
  state: string;
  batch: number;
  id: string | null;
  updatedMs: number;
  detail: string | null;
  output: string | null;
  outputLength?: number;
}

export interface JobAnswer {
  job: Job;
  counts: Record<string, number>;
  targets: Target[];
  results: { directory: string; fileName: string } | null;
}

export interface ErrorLine {
  time: string;
  node: string;
  text: string;
}

export function selectorText(s: { names: string[] | '*'; where: Record<string, string> }): string {
  const names = s.names === '*' ? '*' : s.names.join(',');
  const where = Object.entries(s.where).map(([k, v]) => `${k}=${v}`);
  return where.length === 0 ? names : `${names} where ${where.join(',')}`;
}
