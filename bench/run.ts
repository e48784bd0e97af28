/**
 * The benchmark harness (BENCH.md): `npm run bench [-- [--quick] [B0 B1 B2 B3 B4 B5 B6 B7]]`.
 * Starts its own nats-server and steward processes in temp folders, prints a markdown table,
 * writes bench/results/<date>-<ids>.json (quick: bench/results/quick.json) and, except in quick
 * mode, regenerates docs/benchmarks.md. Everything it started is stopped, and its temp folder
 * removed, at the end, on failure and on SIGINT/SIGTERM.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runB0, type B0Result } from './b0-floor.js';
import { runB1 } from './b1-roundtrip.js';
import { runB2, type B2Result } from './b2-cmd-burst.js';
import { runB3 } from './b3-burst.js';
import { runB4 } from './b4-fanout.js';
import { runB5, type B5Result } from './b5-backlog.js';
import { startB6, type B6Result } from './b6-idle.js';
import { runB7 } from './b7-wire.js';
import { trustOffPass } from './trust-off.js';
import { BenchEnv, NATS_SERVER_BIN } from './lib/env.js';
import { machine, machineCpuTimes, stealShare } from './lib/procfs.js';
import { median } from './lib/stats.js';
import { benchmarksDoc, buildTable, markdownTable, targetsTable, type PeerResults, type RunReport } from './lib/report.js';
import { isFailure, oursStack, peerStack, type PeerFailure, type PerKind, type Stack } from './lib/stack.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const IMPLEMENTED = ['B0', 'B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7'] as const;
type Id = (typeof IMPLEMENTED)[number];
type PeerId = Exclude<keyof PeerResults, 'bin'>;

const USAGE = `usage: npm run bench [-- [--quick] [--cpu-prof] [--trust-compare] [ids...]]
       npx tsx bench/run.ts --render bench/results/<run>.json   (docs/benchmarks.md again from a run's figures)
  ids: ${IMPLEMENTED.join(' ')} (default: all). B1 always measures B0 too (its floor).
  --quick     small sizes, only checks that everything runs (< 60 s); writes bench/results/quick.json
              and leaves docs/benchmarks.md alone.
  --trust-compare  the cost of the proofs and the policy (issue 16), in the same run: B1 and B3 (those
              asked for) on a trust-on pair and a -trust=off pair side by side, alternating; B4
              three more passes (off, off, on: A B B A with the main pass); B7 with trust off.
  STEWARD_PEER_BIN=<steward-go> in the environment (peer mode): B1, B2, B3, B5 and B6 also run
              on the Go original (e.g. ../shared/peer/steward-go), as gcentral, gship1 and gidle1 on
              the same broker, interleaved with ours round by round; the Go column then holds its
              figures of this run and ours/peer (docs/benchmarks.md, "Peer mode", says how). A
              failure of the peer ends only its part of that benchmark; the run then exits with 1.
  STEWARD_BENCH_KEEP=1 in the environment keeps the run's temp folder (the nodes' logs, stores and
              result files) instead of removing it; its path is printed at the end.
  --cpu-prof  every steward process (and node-sim) writes a V8 CPU profile (bench/lib/cpu-prof.ts) into a
              temp folder, with processes.json naming each pid; figures are then skewed, so
              docs/benchmarks.md is left alone and the JSON is named ...-profiled.json.`;

function parseArgs(argv: readonly string[]): { quick: boolean; cpuProf: boolean; trustCompare: boolean; ids: Id[] } {
  let quick = false;
  let trustCompare = false;
  let cpuProf = false;
  const asked = new Set<Id>();
  for (const a of argv) {
    if (a === '--quick' || a === '-quick') quick = true;
    else if (a === '--cpu-prof') cpuProf = true;
    else if (a === '--trust-compare') trustCompare = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else {
      const id = a.toUpperCase();
      if ((IMPLEMENTED as readonly string[]).includes(id)) asked.add(id as Id);
      else throw new Error(`unknown argument "${a}"\n${USAGE}`);
    }
  }
  if (asked.size === 0) for (const id of IMPLEMENTED) asked.add(id);
  if (asked.has('B1')) asked.add('B0');
  return { quick, cpuProf, trustCompare, ids: IMPLEMENTED.filter((id) => asked.has(id)) };
}

/** Renders docs/benchmarks.md again from the raw figures of a full run (after a change to the report only). */
function render(jsonPath: string): number {
  const rep = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as RunReport;
  if (rep.quick) throw new Error(`${jsonPath} is a quick run: docs/benchmarks.md shows full runs only`);
  const rebuilt: RunReport = { ...rep, ...buildTable(rep.results, rep.quick) };
  fs.writeFileSync(jsonPath, JSON.stringify(rebuilt, null, 2) + '\n');
  const doc = path.join(ROOT, 'docs', 'benchmarks.md');
  fs.writeFileSync(doc, benchmarksDoc(rebuilt, path.relative(ROOT, path.resolve(jsonPath))));
  process.stdout.write(
    `${markdownTable(rebuilt.table, rebuilt.results.peer !== undefined)}\n\n${targetsTable(rebuilt.targets)}\n\nwrote ${path.relative(ROOT, doc)}\n`,
  );
  return 0;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--render') {
    const file = argv[1];
    if (file === undefined) {
      process.stderr.write(`bench: --render needs the JSON file of a run\n${USAGE}\n`);
      return 2;
    }
    return render(file);
  }
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    return 2;
  }
  const { quick, cpuProf, trustCompare, ids } = args;
  const started = performance.now();
  const loadStart = os.loadavg();
  // The 1-minute load average every 5 s: other work on the machine is what makes figures noisy.
  const loadSamples: number[] = [];
  const loadTimer = setInterval(() => loadSamples.push(os.loadavg()[0] ?? 0), 5000);
  loadTimer.unref();
  const cpuStart = machineCpuTimes();
  const command = `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
  const log = (s: string): void => void process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${s}\n`);

  let profDir: string | undefined;
  if (cpuProf) {
    // Inherited by every process the run starts; bin/steward execs node, which reads it. Node 20
    // does not take --cpu-prof from NODE_OPTIONS: a preloaded module runs the profiler instead.
    profDir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-profiles-'));
    process.env.STEWARD_BENCH_PROF_DIR = profDir;
    process.env.NODE_OPTIONS =
      `${process.env.NODE_OPTIONS ?? ''} --import ${import.meta.resolve('tsx')} --import ${path.join(HERE, 'lib', 'cpu-prof.ts')}`.trim();
    log(`CPU profiles go to ${profDir}`);
  }
  const env = new BenchEnv();
  const peerBin = process.env.STEWARD_PEER_BIN;
  const stacks: Stack[] = [oursStack(env)];
  if (peerBin !== undefined && peerBin !== '') {
    const bin = path.resolve(peerBin);
    try {
      fs.accessSync(bin, fs.constants.X_OK);
    } catch {
      process.stderr.write(`bench: STEWARD_PEER_BIN=${peerBin}: not an executable file\n`);
      return 2;
    }
    stacks.push(peerStack(env, bin));
  }
  const peer: PeerResults | undefined = stacks.length > 1 ? { bin: path.resolve(peerBin ?? '') } : undefined;
  /** Logs the peer's figure of a benchmark (peer mode), or why its part failed. */
  /** Keeps and logs the peer's figures of a benchmark (peer mode), or why its part failed. */
  const logPeer = <K extends PeerId>(
    id: K,
    got: PeerResults[K],
    text: (p: Exclude<NonNullable<PeerResults[K]>, PeerFailure>) => string,
  ): void => {
    if (peer === undefined || got === undefined) return;
    peer[id] = got;
    log(
      `${id}, peer: ${isFailure(got) ? `FAILED: ${got.failed.slice(0, 300)}` : text(got as Exclude<NonNullable<PeerResults[K]>, PeerFailure>)}`,
    );
  };
  let closing: Promise<void> | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping everything`);
    closing ??= env.close();
    void closing.finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const onCrash = (err: unknown): void => {
    log(`FAILED (uncaught): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    closing ??= env.close();
    void closing.finally(() => process.exit(1));
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  const results: RunReport['results'] = peer === undefined ? {} : { peer };
  try {
    log(
      `${quick ? 'quick' : 'full'} run of ${ids.join(' ')}${peer === undefined ? '' : ` with the peer ${peer.bin}`} in ${env.root} (load average ${loadStart.map((v) => v.toFixed(2)).join(' ')})`,
    );
    const nats = await env.nats();
    log(`nats-server on port ${nats.port} (pid ${nats.pid})`);
    let b6: (() => Promise<PerKind<B6Result>>) | undefined;
    if (ids.includes('B6')) {
      b6 = await startB6(env, quick, stacks, log);
      log(`B6: idle node${stacks.length > 1 ? 's' : ''} started`);
    }
    let b0: B0Result | undefined;
    if (ids.includes('B0')) {
      log('B0: physical floor');
      b0 = await runB0(env, quick);
      results.B0 = b0;
      log(`B0: NATS rtt p50 ${b0.natsRtt.p50} ms, spawn p50 ${b0.spawn.p50} ms, fsync p50 ${b0.fsync.p50} ms`);
    }
    if (ids.includes('B1') && b0 !== undefined) {
      log('B1: round trip');
      const b1 = await runB1(env, quick, b0, stacks, log);
      results.B1 = b1.ours;
      log(`B1: p50 ${b1.ours.roundTrip.p50} ms, p99 ${b1.ours.roundTrip.p99} ms, ratio ${b1.ours.ratio}`);
      logPeer('B1', b1.peer, (p) => `p50 ${p.roundTrip.p50} ms, p99 ${p.roundTrip.p99} ms`);
    }
    if (ids.includes('B2')) {
      log('B2: command burst');
      const b2 = await runB2(env, quick, stacks, log);
      const order = (x: B2Result): string => (x.inOrder ? 'yes' : `no (${x.displaced} out of place)`);
      results.B2 = b2.ours;
      log(
        `B2: ${b2.ours.msgPerSec} msg/s (${b2.ours.seconds} s, median), spawn floor ${b2.ours.spawnFloor.echoPerSec}/s, ratio ${b2.ours.ratio}, in order: ${order(b2.ours)}`,
      );
      logPeer('B2', b2.peer, (p) => `${p.msgPerSec} msg/s (${p.seconds} s, median), in order: ${order(p)}`);
    }
    if (ids.includes('B3')) {
      log('B3: message burst');
      const b3 = await runB3(env, quick, stacks, log);
      results.B3 = b3.ours;
      log(
        `B3: ${b3.ours.msgPerSec} msg/s (${b3.ours.seconds} s), first burst ${b3.ours.warmup.msgPerSec} msg/s, bad lines ${b3.ours.badLines}`,
      );
      logPeer(
        'B3',
        b3.peer,
        (p) => `${p.msgPerSec} msg/s (${p.seconds} s), first burst ${p.warmup.msgPerSec} msg/s, bad lines ${p.badLines}`,
      );
      if (b3.ours.badLines !== 0) throw new Error(`B3: ${b3.ours.badLines} lines missing or wrong in ship1's result file`);
    }
    if (ids.includes('B4')) {
      log('B4: fan-out');
      results.B4 = await runB4(env, quick, log);
      for (const s of results.B4.sizes) log(`B4: ${s.n} nodes: last reply after ${s.last.p50} ms (median), ${s.repliesPerSec} replies/s`);
    }
    if (ids.includes('B5')) {
      log('B5: offline backlog');
      const b5 = await runB5(env, quick, stacks, log);
      results.B5 = b5.ours;
      const drained = (x: B5Result): string =>
        `${x.messages} messages drained in ${x.seconds} s (median); central held them in ${x.holdRssMB} MB`;
      log(`B5: ${drained(b5.ours)}`);
      logPeer('B5', b5.peer, drained);
    }
    if (ids.includes('B7')) {
      log('B7: bytes on the wire');
      results.B7 = await runB7(env, quick);
      log(`B7: ${results.B7.settings.map((s) => `${s.setting} ${s.inBytes + s.outBytes} B`).join(', ')}`);
    }
    if (trustCompare) results.trustOff = await trustOffPass(ids, quick, b0, log, results.B4);
    if (b6 !== undefined) {
      log('B6: waiting for the idle period to end');
      const r6 = await b6();
      results.B6 = r6.ours;
      log(`B6: idle RSS ${r6.ours.rssMB} MB`);
      logPeer('B6', r6.peer, (p) => `idle RSS ${p.rssMB} MB`);
    }
  } catch (err) {
    log(`FAILED: ${(err as Error).stack ?? String(err)}`);
    await (closing ??= env.close());
    return 1;
  }
  await (closing ??= env.close());
  clearInterval(loadTimer);
  if (profDir !== undefined) {
    fs.writeFileSync(path.join(profDir, 'processes.json'), JSON.stringify(env.processes, null, 2) + '\n');
    log(`CPU profiles in ${profDir} (processes.json names each pid); open them in Chrome DevTools or speedscope`);
  }

  const date = new Date();
  const report: RunReport = {
    date: date.toISOString(),
    command,
    quick,
    ids,
    machine: machine(NATS_SERVER_BIN),
    code: codeState(),
    loadavg: {
      start: loadStart.map((v) => Math.round(v * 100) / 100),
      end: os.loadavg().map((v) => Math.round(v * 100) / 100),
      during:
        loadSamples.length === 0
          ? undefined
          : { min: Math.min(...loadSamples), median: Math.round(median(loadSamples) * 100) / 100, max: Math.max(...loadSamples) },
    },
    stealShare: stealShare(cpuStart, machineCpuTimes()),
    wallSeconds: Math.round((performance.now() - started) / 100) / 10,
    results,
    ...buildTable(results, quick),
  };
  const resultsDir = path.join(HERE, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const jsonName = quick ? 'quick.json' : `${date.toISOString().slice(0, 10)}-${ids.join('-')}${cpuProf ? '-profiled' : ''}.json`;
  const jsonPath = path.join(resultsDir, jsonName);
  fs.writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`\n${markdownTable(report.table, peer !== undefined)}\n\n${targetsTable(report.targets)}\n\n`);
  log(`wrote ${path.relative(ROOT, jsonPath)}`);
  if (!quick && !cpuProf) {
    const doc = path.join(ROOT, 'docs', 'benchmarks.md');
    fs.mkdirSync(path.dirname(doc), { recursive: true });
    fs.writeFileSync(doc, benchmarksDoc(report, path.relative(ROOT, jsonPath)));
    log(`wrote ${path.relative(ROOT, doc)}`);
  } else if (quick && report.wallSeconds >= 60) {
    log(`WARNING: the quick run took ${report.wallSeconds} s (budget 60 s)`);
  }
  const peerFailed = Object.entries(peer ?? {}).filter(([, v]) => typeof v === 'object' && isFailure(v as object));
  if (peerFailed.length > 0) {
    log(`FAILED: the peer's part of ${peerFailed.map(([k]) => k).join(', ')} did not finish (see the Go column)`);
    return 1;
  }
  return 0;
}

/** HEAD and the src/ files that differ from it, so a figure can be tied to the code it measured. */
function codeState(): { commit: string; dirtySrc: string[] } {
  const git = (...a: string[]): string => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const commit = git('rev-parse', '--short=12', 'HEAD').trim();
    const dirtySrc = git('status', '--porcelain', '--', 'src')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.slice(3));
    return { commit, dirtySrc };
  } catch {
    return { commit: 'unknown (not a git checkout)', dirtySrc: [] };
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
