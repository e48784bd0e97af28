/**
 * Kill -9 of a receiver during a burst, many times over, on a loaded machine: how many commands
 * of each burst ran, ran twice, were reported interrupted, and how many of those never ran (at
 * most one handover group, HANDOVER_AT_MOST, may be lost that way). `npm run test:kill-burst -- --help`.
 */
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BusyCore } from '../support/busy-core.js';
import { eventually } from '../support/eventually.js';
import { lines, settled } from '../support/exactly-once.js';
import { startFleet, type Fleet } from '../support/fleet.js';
import { processesWith } from '../support/procs.js';
import { cmd, type StewardProcess } from '../support/steward.js';
import { Prng, seedFrom } from './prng.js';
import { percentile } from './tally.js';

const USAGE = `usage: npm run test:kill-burst -- [options]

  --kills N        kills of ship1, each during a burst of its own (default 10)
  --burst N        commands per burst (default 150)
  --seed S         seed of the moments of the kills (default: drawn and printed)
  --min-ran N      fewest commands run before a kill (default 3)
  --max-ran N      most commands run before a kill (default 40)
  --no-load        no busy core (by default one core is kept busy for the whole run)
  --settle S       bound on the wait for each burst to be accounted for and settled, in s (default 180)
  --keep           keep the nodes' folders
`;

/** The most commands a crash may leave reported interrupted without having run: one handover group (src/spawn/spawner.ts). */
const NEVER_RAN_AT_MOST = 8;

/** What one kill left. */
export interface KillResult {
  readonly kill: number;
  /** Commands the draw said should have run before the kill... */
  readonly threshold: number;
  /** ...and how many had when ship1 was killed. */
  readonly ranAtKill: number;
  readonly accepted: number;
  /** Distinct commands that ran (once or more). */
  readonly ran: number;
  readonly twice: number;
  readonly interrupted: number;
  readonly interruptedRan: number;
  readonly neverRan: number;
  /** Neither ran nor reported interrupted. */
  readonly unaccounted: number;
  /** Commands reported interrupted more than once. */
  readonly reportedTwice: number;
  /** Other error lines at central about this burst (none expected). */
  readonly otherReports: number;
  /** Lines in the marker file that no command of the burst writes. */
  readonly unexpected: number;
  /** From the restart of ship1 to both nodes settled, in ms. */
  readonly settleMs: number;
  readonly settled: boolean;
  readonly details: string[];
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Central's error lines about the burst writing to `marker`: the numbers reported interrupted, and the other lines. */
function reportsAbout(central: StewardProcess, marker: string): { interrupted: number[]; other: string[] } {
  const re = new RegExp(`echo (\\d+) >> ${escapeRe(marker)}\\b`, 'g');
  const interrupted: number[] = [];
  const other: string[] = [];
  for (const l of central.readErrorLog().split('\n')) {
    if (!l.includes(marker)) continue;
    if (l.includes('was interrupted by a restart of ship1')) interrupted.push(...[...l.matchAll(re)].map((m) => Number(m[1])));
    else other.push(l);
  }
  return { interrupted, other };
}

/** One burst, one kill -9 of ship1 during it, a restart, and the count once everything settled. */
async function killDuringBurst(fleet: Fleet, k: number, burst: number, threshold: number, settleMs: number): Promise<KillResult> {
  const [central, ship1] = fleet.nodes as [StewardProcess, StewardProcess];
  const marker = path.join(ship1.dir, `burst-${k}.log`);
  const messages = Array.from({ length: burst }, (_, i) =>
    cmd('ship1', ['sh', '-c', `echo ${i} >> ${marker}`], { replyMethod: 'REQNone', ACKTimeout: 2, retries: -1, methodTimeout: 60 }),
  );
  const details: string[] = [];
  const answers = await central.send(JSON.stringify(messages));
  const accepted = answers.filter((a) => a.status === 'accepted').length;
  if (accepted !== burst) details.push(`only ${accepted} of ${burst} accepted`);
  await eventually(() => lines(marker).length >= threshold, { what: `${threshold} commands to run`, timeoutMs: 60_000, intervalMs: 2 });
  await ship1.kill9();
  const ranAtKill = lines(marker).length;
  if (ranAtKill >= burst) details.push(`the kill came after the burst had run (${ranAtKill} of ${burst})`);
  await ship1.start();
  const restarted = Date.now();

  const ran = (): number[] => lines(marker).map(Number);
  const everyOne = (): boolean => {
    const seen = new Set([...ran(), ...reportsAbout(central, marker).interrupted]);
    return Array.from({ length: burst }, (_, i) => i).every((i) => seen.has(i));
  };
  // Every command ran or was reported, nothing is left to send or run, no command of the burst
  // still runs: the count is final. A bound passed is counted, not thrown.
  let isSettled = true;
  await eventually(() => everyOne() && settled(central, ship1) && processesWith(marker).length === 0, {
    what: `burst ${k} accounted for and both nodes settled`,
    timeoutMs: settleMs,
    intervalMs: 100,
  }).catch((err: unknown) => {
    isSettled = false;
    details.push((err as Error).message);
  });
  const took = Date.now() - restarted;

  const counts = new Map<number, number>();
  let unexpected = 0;
  for (const l of lines(marker)) {
    const i = Number(l);
    if (!/^\d+$/.test(l) || i >= burst) unexpected++;
    else counts.set(i, (counts.get(i) ?? 0) + 1);
  }
  const { interrupted, other } = reportsAbout(central, marker);
  const reported = new Set(interrupted);
  const twice = [...counts].filter(([, c]) => c > 1).map(([i]) => i);
  const neverRan = [...reported].filter((i) => !counts.has(i));
  const unaccounted = Array.from({ length: burst }, (_, i) => i).filter((i) => !counts.has(i) && !reported.has(i));
  if (twice.length > 0) details.push(`ran twice: ${twice.join(', ')}`);
  if (unaccounted.length > 0) details.push(`neither ran nor reported: ${unaccounted.join(', ')}`);
  if (neverRan.length > 0) details.push(`reported interrupted, never ran: ${neverRan.sort((a, b) => a - b).join(', ')}`);
  for (const l of other.slice(0, 3)) details.push(`other error line: ${l.slice(0, 300)}`);
  return {
    kill: k,
    threshold,
    ranAtKill,
    accepted,
    ran: counts.size,
    twice: twice.length,
    interrupted: reported.size,
    interruptedRan: reported.size - neverRan.length,
    neverRan: neverRan.length,
    unaccounted: unaccounted.length,
    reportedTwice: interrupted.length - reported.size,
    otherReports: other.length,
    unexpected,
    settleMs: took,
    settled: isSettled,
    details,
  };
}

/** A hard invariant this kill broke, if any. */
export function broken(r: KillResult): string[] {
  return [
    r.twice > 0 ? `${r.twice} ran twice` : '',
    r.unaccounted > 0 ? `${r.unaccounted} unaccounted` : '',
    r.neverRan > NEVER_RAN_AT_MOST ? `${r.neverRan} never ran (over ${NEVER_RAN_AT_MOST})` : '',
    r.reportedTwice > 0 ? `${r.reportedTwice} reported twice` : '',
    r.unexpected > 0 ? `${r.unexpected} unexpected marker lines` : '',
    r.settled ? '' : 'not settled',
  ].filter((x) => x !== '');
}

/** The per-kill table and the totals, in Markdown. */
export function killTable(rs: readonly KillResult[], burst: number): string {
  const head = `| kill | ran at kill | ran | ran twice | interrupted (reported) | interrupted, had run | interrupted, never ran | unaccounted | settled after |`;
  const row = (r: KillResult): string =>
    `| ${r.kill} | ${r.ranAtKill} | ${r.ran} | ${r.twice} | ${r.interrupted} | ${r.interruptedRan} | ${r.neverRan} | ${r.unaccounted} | ${(r.settleMs / 1000).toFixed(1)} s |`;
  const sum = (f: (r: KillResult) => number): number => rs.reduce((a, r) => a + f(r), 0);
  const settle = rs.map((r) => r.settleMs);
  return [
    head,
    '|---|---|---|---|---|---|---|---|---|',
    ...rs.map(row),
    `| all (${rs.length} x ${burst}) | ${sum((r) => r.ranAtKill)} | ${sum((r) => r.ran)} | ${sum((r) => r.twice)} | ${sum((r) => r.interrupted)} | ${sum((r) => r.interruptedRan)} | ${sum((r) => r.neverRan)} | ${sum((r) => r.unaccounted)} | p50 ${(percentile(settle, 50) / 1000).toFixed(1)} s |`,
  ].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string', default: '10' },
      burst: { type: 'string', default: '150' },
      seed: { type: 'string' },
      'min-ran': { type: 'string', default: '3' },
      'max-ran': { type: 'string', default: '40' },
      'no-load': { type: 'boolean', default: false },
      settle: { type: 'string', default: '180' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const int = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, not ${v}`);
    return n;
  };
  const kills = int('kills', values.kills, 1);
  const burst = int('burst', values.burst, 1);
  const minRan = int('min-ran', values['min-ran'], 1);
  const maxRan = Math.min(int('max-ran', values['max-ran'], minRan), burst - 1);
  const seed = values.seed === undefined ? randomInt(1, 2 ** 31) : seedFrom(values.seed);
  const settleMs = int('settle', values.settle, 1) * 1000;
  const loaded = !values['no-load'];
  const repro = `npm run test:kill-burst -- --kills ${kills} --burst ${burst} --seed ${seed}${loaded ? '' : ' --no-load'}`;
  const log = (l: string): void => console.log(l);
  const prng = new Prng(seed);
  const started = Date.now();
  log(`kill-burst: ${kills} kills of ship1, bursts of ${burst}, ${loaded ? 'one core kept busy' : 'no load'}; reproduce with: ${repro}`);

  const busy = loaded ? BusyCore.start() : undefined;
  const results: KillResult[] = [];
  let closeError: string | undefined;
  let fleet: Fleet | undefined;
  try {
    fleet = await startFleet(['central', 'ship1']);
    for (let k = 1; k <= kills; k++) {
      const threshold = prng.int(minRan, maxRan);
      const r = await killDuringBurst(fleet, k, burst, threshold, settleMs);
      results.push(r);
      const bad = broken(r);
      log(
        `kill ${k}/${kills} after ${r.ranAtKill} ran (drawn ${threshold}): ran ${r.ran}, twice ${r.twice}, interrupted ${r.interrupted} (had run ${r.interruptedRan}, never ran ${r.neverRan}), unaccounted ${r.unaccounted}, settled after ${(r.settleMs / 1000).toFixed(1)} s${bad.length > 0 ? ` | BROKEN: ${bad.join(', ')}` : ''}`,
      );
      for (const d of r.details) log(`        ${d}`);
    }
  } finally {
    await busy?.stop();
    if (fleet !== undefined) {
      const dirs = fleet.nodes.map((n) => n.dir);
      if (values.keep) {
        await Promise.allSettled(fleet.nodes.map((n) => n.stop()));
        await fleet.nats.close();
        log(`nodes' folders kept: ${dirs.join(' ')}`);
      } else await fleet.close().catch((err: unknown) => (closeError = (err as Error).message));
    }
  }

  const bad = results.flatMap((r) => broken(r).map((b) => `kill ${r.kill}: ${b}`));
  if (closeError !== undefined) bad.push(`a node did not stop cleanly: ${closeError}`);
  const sum = (f: (r: KillResult) => number): number => results.reduce((a, r) => a + f(r), 0);
  log('');
  log(killTable(results, burst));
  log('');
  log(
    `kill-burst: seed ${seed}, ${results.length} kills x ${burst} commands, ${loaded ? 'loaded' : 'no load'}, ${((Date.now() - started) / 60_000).toFixed(1)} min: ` +
      `ran ${sum((r) => r.ran)}, ran twice ${sum((r) => r.twice)}, interrupted ${sum((r) => r.interrupted)} (had run ${sum((r) => r.interruptedRan)}, never ran ${sum((r) => r.neverRan)}, at most ${Math.max(0, ...results.map((r) => r.neverRan))} in one crash), unaccounted ${sum((r) => r.unaccounted)}`,
  );
  for (const b of bad) log(`BROKEN ${b}`);
  log(bad.length > 0 ? `kill-burst: FAILED (reproduce with: ${repro})` : `kill-burst: passed (seed ${seed})`);
  return bad.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
