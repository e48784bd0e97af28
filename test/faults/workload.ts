import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { InputLine, StewardProcess } from '../support/steward.js';
import { FINITE, type Batch, type Flow } from './schedule.js';

/** One command of the workload, and what became of it. */
export interface Command {
  readonly flow: number;
  /** Its number in the flow's iteration: it appends `n` to the exec log and replies `reply-n`. */
  readonly n: number;
  readonly finite: boolean;
  /** accepted: the socket answered with an id; unconfirmed: the sender died before answering. */
  state: 'accepted' | 'unconfirmed' | 'refused';
  id?: string;
  acceptedAtMs?: number;
  /** When the poller first saw it accounted for (ran and replied, or reported). */
  doneAtMs?: number;
  refusal?: string;
}

/** Where one flow of one iteration leaves its traces. */
export interface FlowFiles {
  /** On the receiving node: one line per execution. */
  readonly execLog: string;
  /** On the sending node: one line per reply. */
  readonly results: string;
}

export function flowFiles(iteration: number, flow: Flow, from: StewardProcess, to: StewardProcess): FlowFiles {
  const dir = path.join(to.dir, 'exec');
  fs.mkdirSync(dir, { recursive: true });
  return {
    execLog: path.join(dir, `it${iteration}-${flow.from}.log`),
    results: path.join(from.dataDir, 'results', flow.to, `it${iteration}.txt`),
  };
}

/** The message for command `n` of a batch. */
export function commandMessage(flow: Flow, files: FlowFiles, iteration: number, n: number, batch: Batch): Record<string, unknown> {
  return {
    toNode: flow.to,
    method: 'REQCliCommand',
    // The exec line is written first: a command killed while it sleeps has run (once).
    methodArgs: [
      'bash',
      '-c',
      `echo ${n} >> ${files.execLog}; ${batch.runMs > 0 ? `sleep ${(batch.runMs / 1000).toFixed(3)}; ` : ''}echo reply-${n}`,
    ],
    replyMethod: 'REQToFileAppend',
    directory: 'results',
    fileName: `it${iteration}.txt`,
    ACKTimeout: batch.ackTimeoutS,
    retries: batch.finite ? FINITE.retries : -1,
    replyACKTimeout: 3,
    replyRetries: -1,
    methodTimeout: 60,
  };
}

/** What one socket write got back. */
export interface SocketOutcome {
  /** False when nothing was connected (refused, no socket): nothing can have been accepted. */
  readonly connected: boolean;
  /** The complete answer lines received (fewer than sent when the node died meanwhile). */
  readonly lines: InputLine[];
}

/**
 * Writes `body` to a unix socket and collects the answer lines, also when the connection
 * breaks halfway (the node was killed): then the lines received so far are all we know.
 */
export function writeSocket(socketPath: string, body: string, timeoutMs = 60_000): Promise<SocketOutcome> {
  return new Promise((resolve) => {
    let connected = false;
    let out = '';
    let settled = false;
    const c = net.connect(socketPath);
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      c.destroy();
      const complete = out.slice(0, out.lastIndexOf('\n') + 1);
      const lines: InputLine[] = [];
      for (const l of complete.split('\n')) {
        if (l.trim() === '') continue;
        try {
          lines.push(JSON.parse(l) as InputLine);
        } catch {
          // a torn line: not an answer
        }
      }
      resolve({ connected, lines });
    };
    const timer = setTimeout(finish, timeoutMs);
    c.on('connect', () => {
      connected = true;
      c.end(body);
    });
    c.on('data', (b: Buffer) => (out += b.toString()));
    c.on('error', finish);
    c.on('close', finish);
  });
}

/** Lines of a file counted: `n` -> how many times; lines that are no number of ours go to `unexpected`. */
export function countLines(file: string, prefix: string): { counts: Map<number, number>; unexpected: string[] } {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    // not written yet
  }
  const counts = new Map<number, number>();
  const unexpected: string[] = [];
  for (const l of text.split('\n')) {
    if (l === '') continue;
    const m = new RegExp(`^${prefix}(\\d+)$`).exec(l);
    if (m === null) {
      unexpected.push(l);
      continue;
    }
    const n = Number(m[1]);
    counts.set(n, (counts.get(n) ?? 0) + 1);
  }
  return { counts, unexpected };
}

/**
 * What central's error log says about message ids: interrupted, max retries, the node lost track
 * of it (its spawn helper died while it ran), or another error.
 */
export type Report = 'interrupted' | 'max-retries' | 'lost-track' | 'other';

const ID = /\b([0-9A-HJKMNP-TV-Z]{26})(?:-r\d+)?\b/g;

/** Reads central's error log: for each message id (a reply's id counts for its request), what was reported. */
export function readReports(errorLog: string): Map<string, Set<Report>> {
  let text = '';
  try {
    text = fs.readFileSync(errorLog, 'utf8');
  } catch {
    // nothing reported yet
  }
  const out = new Map<string, Set<Report>>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const kind: Report = line.includes('was interrupted by a restart')
      ? 'interrupted'
      : line.includes('max retries reached')
        ? 'max-retries'
        : line.includes('the spawn helper stopped')
          ? 'lost-track'
          : 'other';
    for (const m of line.matchAll(ID)) {
      const id = m[1] as string;
      let s = out.get(id);
      if (s === undefined) out.set(id, (s = new Set()));
      s.add(kind);
    }
  }
  return out;
}

/**
 * Central's error log as a whole: lines that appear twice (each line carries its time and
 * reporting node, so a twin is a report delivered twice) and lines about none of `ids`.
 */
export function errorLogLines(errorLog: string, ids: ReadonlySet<string>): { total: number; twins: string[]; unrelated: string[] } {
  let text = '';
  try {
    text = fs.readFileSync(errorLog, 'utf8');
  } catch {
    // nothing reported
  }
  const seen = new Set<string>();
  const twins: string[] = [];
  const unrelated: string[] = [];
  let total = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    total++;
    if (seen.has(line)) twins.push(line);
    seen.add(line);
    if (![...line.matchAll(ID)].some((m) => ids.has(m[1] as string))) unrelated.push(line);
  }
  return { total, twins, unrelated };
}
