import { describeFault } from './schedule.js';
import type { Crash } from './monitor.js';
import type { IterationResult } from './iteration.js';
import { percentile, type Tally } from './tally.js';

export const s = (ms: number): string => (Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(1)} s`);
export const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MB`;

/** The line (two, in fact) printed after each iteration. */
export function iterationLine(r: IterationResult, total: number, rss: number): string {
  const t = r.tally;
  const flags = [
    t.lost > 0 ? `LOST ${t.lost}` : '',
    t.duplicated > 0 ? `DUPLICATED ${t.duplicated}` : '',
    t.unexpected > 0 ? `UNEXPECTED ${t.unexpected}` : '',
    r.quiesced ? '' : 'NOT QUIESCED',
  ].filter((x) => x !== '');
  return (
    `it ${String(r.index).padStart(3)}/${total} ${r.faults.map(describeFault).join(' ')}\n` +
    `        commands ${t.commands}: ok ${t.ok}, interrupted ${t.interrupted} (ran ${t.interruptedRan}), failed ${t.failed} (ran ${t.failedRan}), lost track ${t.lostTrack} (ran ${t.lostTrackRan}), unconfirmed ${t.unconfirmed}, refused ${t.refused}, lost ${t.lost}, duplicated ${t.duplicated}` +
    ` | recovered at ${s(r.recoveredAfterMs)}, quiet ${s(r.quietMs)} later, delivery after recovery p50 ${s(percentile(r.recoveryLatenciesMs, 50))} max ${s(r.recoveryLatenciesMs.length === 0 ? NaN : Math.max(...r.recoveryLatenciesMs))}` +
    ` | rss ${mb(rss)}${flags.length > 0 ? ` | ${flags.join(', ')}` : ''}`
  );
}

/** What a run found, for the table and the JSON file. */
export interface Summary {
  readonly seed: number;
  readonly iterations: number;
  readonly cluster: boolean;
  /** One core was kept busy during the iterations (--load). */
  readonly loaded: boolean;
  readonly faultsByKind: Record<string, number>;
  readonly tally: Tally;
  readonly recoveryP50Ms: number;
  readonly recoveryMaxMs: number;
  readonly quietP50Ms: number;
  readonly quietMaxMs: number;
  readonly notQuiesced: number;
  readonly late: number;
  readonly crashes: Crash[];
  readonly faultErrors: string[];
  readonly maxRssBytes: Record<string, number>;
  readonly uncleanStops: string[];
  readonly unhandled: string[];
  /** Central's error log: lines in all, lines seen twice, lines about none of our commands. */
  readonly errorLines: { total: number; twins: number; unrelated: number };
  /** kill-helper faults that killed a spawn helper running commands, one running none, and that found no helper. */
  readonly helperKills: { busy: number; idle: number; none: number };
}

/** The tables of a run, in Markdown (as docs/reliability.md shows them). */
export function summaryTable(sm: Summary): string {
  const t = sm.tally;
  const faults = Object.values(sm.faultsByKind).reduce((a, b) => a + b, 0);
  const maxRss = Math.max(0, ...Object.values(sm.maxRssBytes));
  const lines = [
    `| iterations | faults | commands | ran and replied once | interrupted (reported) | failed (reported) | lost track (reported) | unconfirmed | lost | duplicated | delivery after recovery p50 / max | quiescence p50 / max | crashes | max RSS |`,
    `|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`,
    `| ${sm.iterations} | ${faults} | ${t.commands} | ${t.ok} | ${t.interrupted} | ${t.failed + t.otherReported} | ${t.lostTrack} | ${t.unconfirmed} | ${t.lost} | ${t.duplicated} | ${s(sm.recoveryP50Ms)} / ${s(sm.recoveryMaxMs)} | ${s(sm.quietP50Ms)} / ${s(sm.quietMaxMs)} | ${sm.crashes.length} | ${mb(maxRss)} |`,
    ``,
    `| fault | count |`,
    `|---|---|`,
    ...Object.entries(sm.faultsByKind)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `| ${k} | ${n} |`),
    ``,
    `Of the interrupted, ${t.interruptedRan} had run before the crash (once); of the failed, ${t.failedRan} ran once anyway (the command reached its node, no ACK came back in the budget).` +
      ` Lost track of (a spawn helper killed while they ran; the kill-helper faults killed ${sm.helperKills.busy} helpers running commands and ${sm.helperKills.idle} running none, and found none ${sm.helperKills.none} times): ${t.lostTrack}, of which ${t.lostTrackRan} had run (once).` +
      ` Of the unconfirmed (the sender was killed before it answered), ${t.unconfirmedRan} ran once, the others never. Refused by a socket: ${t.refused}. Lines no command wrote: ${t.unexpected}. Iterations not quiesced in the bound: ${sm.notQuiesced}.` +
      ` Max RSS per node: ${Object.entries(sm.maxRssBytes)
        .map(([n, b]) => `${n} ${mb(b)}`)
        .join(', ')}.`,
  ];
  return lines.join('\n');
}
