import type { Flow } from './schedule.js';
import { countLines, type Command, type FlowFiles, type Report } from './workload.js';

/** What became of the commands of one iteration, judged from the files the nodes wrote. */
export interface Tally {
  /** Written to a socket. */
  commands: number;
  /** Answered `accepted` with an id. */
  accepted: number;
  /** Ran once and its reply arrived once, nothing reported. */
  ok: number;
  /** Reported "interrupted by a restart" at central (ran at most once). */
  interrupted: number;
  /** ... of which had run before the crash. */
  interruptedRan: number;
  /** Reported "max retries reached" at central (ran at most once). */
  failed: number;
  /** ... of which ran anyway (the receiver got it, the ACKs were lost). */
  failedRan: number;
  /** Reported at central as lost track of (its spawn helper died while it ran): ran at most once, no reply. */
  lostTrack: number;
  /** ... of which had run. */
  lostTrackRan: number;
  /** Reported with another error line at central (ran at most once). */
  otherReported: number;
  /** The sender died before it answered: may run once, never twice. */
  unconfirmed: number;
  /** ... of which ran (the sender had stored it before it died). */
  unconfirmedRan: number;
  /** Refused by the socket (an error line): none expected. */
  refused: number;
  /** Accepted, and neither ran-and-replied nor reported. */
  lost: number;
  /** Ran twice or more, or its reply arrived twice or more. */
  duplicated: number;
  /** Lines in the exec logs or result files that no command of ours wrote. */
  unexpected: number;
  /** Up to a few examples of what went wrong, for the log. */
  details: string[];
}

export function emptyTally(): Tally {
  return {
    commands: 0,
    accepted: 0,
    ok: 0,
    interrupted: 0,
    interruptedRan: 0,
    failed: 0,
    failedRan: 0,
    lostTrack: 0,
    lostTrackRan: 0,
    otherReported: 0,
    unconfirmed: 0,
    unconfirmedRan: 0,
    refused: 0,
    lost: 0,
    duplicated: 0,
    unexpected: 0,
    details: [],
  };
}

export function addTally(into: Tally, t: Tally): void {
  for (const k of Object.keys(t) as (keyof Tally)[]) {
    if (k === 'details') into.details.push(...t.details);
    else into[k] += t[k];
  }
}

/** The counts of the exec logs and result files of an iteration's flows, read now. */
export interface Observed {
  readonly exec: Map<number, number>[];
  readonly replies: Map<number, number>[];
  readonly unexpected: string[];
}

export function observe(files: readonly FlowFiles[]): Observed {
  const exec: Map<number, number>[] = [];
  const replies: Map<number, number>[] = [];
  const unexpected: string[] = [];
  files.forEach((f, i) => {
    const e = countLines(f.execLog, '');
    const r = countLines(f.results, 'reply-');
    exec[i] = e.counts;
    replies[i] = r.counts;
    unexpected.push(
      ...e.unexpected.map((l) => `exec log of flow ${i}: ${JSON.stringify(l)}`),
      ...r.unexpected.map((l) => `results of flow ${i}: ${JSON.stringify(l)}`),
    );
  });
  return { exec, replies, unexpected };
}

/** True once a command's fate is known: it ran and replied, or an error line at central names it. */
export function accounted(c: Command, o: Observed, reports: Map<string, Set<Report>>): boolean {
  if (c.id !== undefined && reports.has(c.id)) return true;
  return (o.exec[c.flow]?.get(c.n) ?? 0) >= 1 && (o.replies[c.flow]?.get(c.n) ?? 0) >= 1;
}

/** Judges every command of an iteration. */
export function judge(commands: readonly Command[], flows: readonly Flow[], o: Observed, reports: Map<string, Set<Report>>): Tally {
  const t = emptyTally();
  const detail = (s: string): void => {
    if (t.details.length < 20) t.details.push(s);
  };
  const sent = new Set<string>();
  for (const c of commands) {
    sent.add(`${c.flow}:${c.n}`);
    t.commands++;
    const ran = o.exec[c.flow]?.get(c.n) ?? 0;
    const replied = o.replies[c.flow]?.get(c.n) ?? 0;
    const flow = flows[c.flow] as Flow;
    const name = `${flow.from}->${flow.to} #${c.n}${c.id === undefined ? '' : ` ${c.id}`}${c.finite ? ' (finite retries)' : ''}`;
    if (ran > 1 || replied > 1) {
      t.duplicated++;
      detail(`DUPLICATED ${name}: ran ${ran} times, replied ${replied} times, state ${c.state}`);
      continue;
    }
    if (c.state === 'refused') {
      t.refused++;
      detail(`refused ${name}: ${c.refusal ?? ''}`);
      continue;
    }
    if (c.state === 'unconfirmed') {
      t.unconfirmed++;
      if (ran === 1) t.unconfirmedRan++;
      continue;
    }
    t.accepted++;
    const r = reports.get(c.id as string);
    if (r?.has('interrupted')) {
      t.interrupted++;
      if (ran === 1) t.interruptedRan++;
    } else if (r?.has('max-retries')) {
      t.failed++;
      if (ran === 1) t.failedRan++;
    } else if (r?.has('lost-track')) {
      t.lostTrack++;
      if (ran === 1) t.lostTrackRan++;
    } else if (r !== undefined) {
      t.otherReported++;
      detail(`reported with another error line: ${name}`);
    } else if (ran === 1 && replied === 1) {
      t.ok++;
    } else {
      t.lost++;
      detail(`LOST ${name}: ran ${ran} times, replied ${replied} times, no error line at central`);
    }
  }
  // Every line in our files must come from a command we sent (else something invented one).
  const unexpected = [...o.unexpected];
  o.exec.forEach((m, flow) => {
    for (const n of m.keys()) if (!sent.has(`${flow}:${n}`)) unexpected.push(`exec log of flow ${flow}: ${n} was never sent`);
  });
  o.replies.forEach((m, flow) => {
    for (const n of m.keys()) if (!sent.has(`${flow}:${n}`)) unexpected.push(`results of flow ${flow}: reply-${n} was never sent`);
  });
  t.unexpected = unexpected.length;
  for (const u of unexpected) detail(`UNEXPECTED ${u}`);
  return t;
}

/** The p-th percentile (0-100) of `xs` (nearest rank), NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}
