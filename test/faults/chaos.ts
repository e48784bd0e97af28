/**
 * The chaos fault suite: real nats-server and steward processes, a counted workload of
 * commands, and a fault schedule drawn from a seed. `npm run test:faults -- --help`.
 */
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { BusyCore } from '../support/busy-core.js';
import { formatHeadOfLine, measureHeadOfLine, type HeadOfLineResult } from './hol.js';
import { rejudge, runIteration, type IterationResult } from './iteration.js';
import { Prng, seedFrom } from './prng.js';
import { Monitor } from './monitor.js';
import { iterationLine, mb, summaryTable, type Summary } from './report.js';
import { describeFault, drawIteration, FAULT_KINDS, type FaultKind, type Shape } from './schedule.js';
import { addTally, emptyTally, percentile } from './tally.js';
import { errorLogLines } from './workload.js';
import { flowPolicies, World } from './world.js';

const USAGE = `usage: npm run test:faults -- [options]

  --iterations N     iterations to run (default 3)
  --seed S           seed of the fault schedules and workloads (default: drawn and printed)
  --first K          number of the first iteration (replay iteration K of a seed: --first K --iterations 1)
  --cluster          a cluster of three nats-servers (faults: loss of one server) instead of one broker
  --load             keep one core busy (a child spinning) during the iterations: a loaded machine
  --window S         seconds during which commands are sent and faults strike (default 10)
  --quiesce S        bound on the wait for quiescence after recovery, in seconds (default 120)
  --rss-limit-mb M   a steward process above this RSS fails the run (default 400)
  --no-hol           skip the head-of-line isolation measurement
  --hol-only         only the head-of-line isolation measurement
  --hol-dead N       dead nodes with a backlog each (default 1)
  --hol-queued N     messages queued for each dead node (default 5000)
  --hol-probes N     round trips measured with and without the backlog (default 30)
  --plan             print the schedules the seed draws and exit
  --out FILE         write the results as JSON
  --keep             keep the nodes' folders (for a post-mortem)
  --verbose          log every fault as it strikes
`;

const NODES = ['central', 'ship1', 'ship2'] as const;

function shapeOf(cluster: boolean, windowMs: number): Shape {
  return {
    cluster,
    windowMs,
    // central commands both ships; ship1 also commands ship2, so a ship is a sender too.
    flows: [
      { from: 'central', to: 'ship1' },
      { from: 'central', to: 'ship2' },
      { from: 'ship1', to: 'ship2' },
    ],
    senders: ['central', 'ship1'],
    receivers: ['ship1', 'ship2'],
    nodes: NODES,
    servers: cluster ? 3 : 1,
  };
}

/** The schedule of iteration `k` depends only on the seed and k, so one iteration can be replayed alone. */
function planOf(seed: number, k: number, shape: Shape): ReturnType<typeof drawIteration> {
  return drawIteration(new Prng(seedFrom(`${seed}:${k}`)), shape);
}

interface ChaosOptions {
  readonly seed: number;
  readonly first: number;
  readonly iterations: number;
  readonly cluster: boolean;
  /** One core kept busy during the iterations. */
  readonly load: boolean;
  readonly shape: Shape;
  readonly quiesceMs: number;
  readonly rssLimitBytes: number;
  readonly keep: boolean;
  readonly verbose: boolean;
  /** The command line that reproduces the run. */
  readonly repro: string;
  readonly log: (line: string) => void;
}

/** Runs the iterations on one fleet, then judges them all again and prints the tables. */
async function runChaos(o: ChaosOptions): Promise<{ summary: Summary; failed: boolean }> {
  const log = o.log;
  const started = Date.now();
  const loadText = o.load ? ', loaded (one core kept busy)' : '';
  log(
    `chaos: seed ${o.seed}, ${o.iterations} iterations from ${o.first}, ${o.cluster ? 'a cluster of 3 servers' : 'one broker'}${loadText}; reproduce with: ${o.repro}`,
  );
  // Started before the fleet and stopped once the iterations are over (before the final judging).
  const busy = o.load ? BusyCore.start() : undefined;
  // ship1 -> ship2 needs a rule on ship2: only central commands a node by default.
  const world = await World.start(NODES, 'central', { cluster: o.cluster, policyFor: flowPolicies(o.shape.flows, 'central') }).catch(
    async (err: unknown) => {
      await busy?.stop(); // a spinning child would outlive this process
      throw err;
    },
  );
  const monitor = new Monitor(world);
  const results: IterationResult[] = [];
  const faultsByKind = Object.fromEntries(Object.values(FAULT_KINDS).map((k) => [k, 0])) as Record<FaultKind, number>;
  const uncleanStops: string[] = [];
  try {
    for (let k = o.first; k < o.first + o.iterations; k++) {
      monitor.iteration = k;
      monitor.iterationMaxRss = 0;
      await world.allConnected(60_000).catch((err: unknown) => log(`  warning before iteration ${k}: ${(err as Error).message}`));
      const plan = planOf(o.seed, k, o.shape);
      for (const f of plan.faults) faultsByKind[f.kind]++;
      const r = await runIteration(world, k, plan, o.shape, { quiesceMs: o.quiesceMs, log, verbose: o.verbose });
      results.push(r);
      log(iterationLine(r, o.first + o.iterations - 1, monitor.iterationMaxRss));
      for (const d of r.tally.details) log(`        ${d}`);
      for (const e of r.faultErrors) log(`        fault action failed: ${e}`);
    }
    await monitor.stop();
    // SIGTERM must end every node cleanly: exit code 0.
    for (const [name, n] of world.nodes) {
      // stop() throws when the exit is not clean; the run goes on to judge the rest.
      await n.stop().catch(() => undefined);
      const e = n.exit;
      if (e === undefined || e.code !== 0)
        uncleanStops.push(`${name}: ${e === undefined ? 'still running' : (e.signal ?? `code ${e.code}`)}`);
    }
  } finally {
    await monitor.stop();
    await world.close();
    await busy?.stop();
  }

  // The final pass: every iteration judged again now that the run is over, so a duplicate or
  // a command that arrived after its iteration's check is still seen.
  const centralLog = world.node('central').errorLog;
  const total = emptyTally();
  let late = 0;
  for (const r of results) {
    const again = rejudge(r, o.shape, centralLog);
    if (again.lost < r.tally.lost) late += r.tally.lost - again.lost;
    if (again.duplicated !== r.tally.duplicated || again.lost !== r.tally.lost || again.unexpected !== r.tally.unexpected) {
      log(
        `it ${r.index} changed after its check: lost ${r.tally.lost} -> ${again.lost}, duplicated ${r.tally.duplicated} -> ${again.duplicated}`,
      );
      for (const d of again.details) log(`        ${d}`);
    }
    r.tally = again;
    addTally(total, again);
  }

  const ids = new Set(results.flatMap((r) => r.commands.flatMap((c) => (c.id === undefined ? [] : [c.id]))));
  const errorLines = errorLogLines(centralLog, ids);
  const latencies = results.flatMap((r) => r.recoveryLatenciesMs);
  const quiet = results.map((r) => r.quietMs);
  const unhandled = [...world.nodes.values()].flatMap((n) =>
    n.stderr.split('\n').filter((l) => /unhandled rejection|uncaught exception/.test(l)),
  );
  const summary: Summary = {
    seed: o.seed,
    iterations: results.length,
    cluster: o.cluster,
    loaded: o.load,
    faultsByKind,
    tally: total,
    recoveryP50Ms: percentile(latencies, 50),
    recoveryMaxMs: latencies.length === 0 ? NaN : Math.max(...latencies),
    quietP50Ms: percentile(quiet, 50),
    quietMaxMs: quiet.length === 0 ? NaN : Math.max(...quiet),
    notQuiesced: results.filter((r) => !r.quiesced).length,
    late,
    crashes: monitor.crashes,
    faultErrors: results.flatMap((r) => r.faultErrors),
    maxRssBytes: Object.fromEntries(monitor.maxRss),
    uncleanStops,
    unhandled,
    errorLines: { total: errorLines.total, twins: errorLines.twins.length, unrelated: errorLines.unrelated.length },
    helperKills: { ...world.helperKills },
  };
  log('');
  log(
    `chaos: seed ${o.seed}, ${results.length} iterations, ${o.cluster ? 'cluster of 3 servers' : 'one broker'}${loadText}, ${((Date.now() - started) / 60_000).toFixed(1)} min`,
  );
  log(summaryTable(summary));
  for (const c of monitor.crashes) log(`CRASH of ${c.node} in iteration ${c.iteration} (${c.exit}):\n${c.logTail}`);
  for (const u of uncleanStops) log(`UNCLEAN STOP ${u}`);
  // Logged, not fatal: the daemon's handler keeps it running. Reported so it gets fixed.
  for (const u of unhandled.slice(0, 10)) log(`WARNING: a daemon logged ${u}`);
  log(
    `central's error log: ${errorLines.total} lines, ${errorLines.twins.length} twice, ${errorLines.unrelated.length} about none of the commands`,
  );
  for (const l of errorLines.twins.slice(0, 5)) log(`  DUPLICATED error line: ${l}`);
  for (const l of errorLines.unrelated.slice(0, 5)) log(`  unrelated error line: ${l.slice(0, 400)}`);
  if (late > 0) log(`${late} commands arrived only after their iteration's bound of ${o.quiesceMs / 1000} s`);
  const overRss = Object.entries(summary.maxRssBytes).filter(([, b]) => b > o.rssLimitBytes);
  for (const [n, b] of overRss) log(`RSS of ${n} reached ${mb(b)}, over the limit of ${mb(o.rssLimitBytes)}`);
  if (o.keep) log(`nodes' folders kept: ${[...world.nodes.values()].map((n) => n.dir).join(' ')}`);
  else world.cleanup();
  const failed =
    total.lost > 0 ||
    total.duplicated > 0 ||
    total.unexpected > 0 ||
    errorLines.twins.length > 0 ||
    monitor.crashes.length > 0 ||
    uncleanStops.length > 0 ||
    summary.faultErrors.length > 0 ||
    overRss.length > 0;
  return { summary, failed };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '3' },
      seed: { type: 'string' },
      first: { type: 'string', default: '1' },
      cluster: { type: 'boolean', default: false },
      load: { type: 'boolean', default: false },
      window: { type: 'string', default: '10' },
      quiesce: { type: 'string', default: '120' },
      'rss-limit-mb': { type: 'string', default: '400' },
      'no-hol': { type: 'boolean', default: false },
      'hol-only': { type: 'boolean', default: false },
      'hol-dead': { type: 'string', default: '1' },
      'hol-queued': { type: 'string', default: '5000' },
      'hol-probes': { type: 'string', default: '30' },
      plan: { type: 'boolean', default: false },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
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
  const iterations = int('iterations', values.iterations, 0);
  const first = int('first', values.first, 1);
  const seed = values.seed === undefined ? randomInt(1, 2 ** 31) : seedFrom(values.seed);
  const shape = shapeOf(values.cluster, int('window', values.window, 1) * 1000);
  const log = (l: string): void => console.log(l);
  const repro = `npm run test:faults -- --iterations ${iterations} --seed ${seed}${first === 1 ? '' : ` --first ${first}`}${values.cluster ? ' --cluster' : ''}${values.load ? ' --load' : ''}${values.window === '10' ? '' : ` --window ${values.window}`}`;

  if (values.plan) {
    for (let k = first; k < first + iterations; k++) {
      const p = planOf(seed, k, shape);
      log(
        `it ${k}: ${p.faults.map(describeFault).join(' ')}; ${p.batches.length} batches, ${p.batches.reduce((a, b) => a + b.count, 0)} commands`,
      );
    }
    return 0;
  }

  const started = new Date();
  let failed = false;
  let summary: Summary | undefined;
  if (!values['hol-only'] && iterations > 0) {
    ({ summary, failed } = await runChaos({
      seed,
      first,
      iterations,
      cluster: values.cluster,
      load: values.load,
      shape,
      quiesceMs: int('quiesce', values.quiesce, 1) * 1000,
      rssLimitBytes: int('rss-limit-mb', values['rss-limit-mb'], 1) * 1024 * 1024,
      keep: values.keep,
      verbose: values.verbose,
      repro,
      log,
    }));
  }

  let hol: HeadOfLineResult | undefined;
  if (!values['no-hol']) {
    log('');
    log('head-of-line isolation: round trips to a live node, without and with a backlog for a dead one');
    hol = await measureHeadOfLine({
      dead: int('hol-dead', values['hol-dead'], 1),
      queued: int('hol-queued', values['hol-queued'], 1),
      probes: int('hol-probes', values['hol-probes'], 1),
      gapMs: 100,
      backlogAckTimeoutS: 2,
      log,
    });
    log(formatHeadOfLine(hol));
  }

  if (values.out !== undefined) {
    const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, ${os.type()} ${os.release()}, Node ${process.version}`;
    fs.writeFileSync(values.out, JSON.stringify({ date: started.toISOString(), machine, repro, summary, hol }, null, 2) + '\n');
  }
  log('');
  log(failed ? `chaos: FAILED (seed ${seed}; reproduce with: ${repro})` : `chaos: passed (seed ${seed})`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
