/**
 * The benchmark harness (BENCH.md): `npm run bench [-- [--quick] [B0 B1 B3 B6]]`.
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
import { runB3 } from './b3-burst.js';
import { startB6, type B6Result } from './b6-idle.js';
import { BenchEnv, NATS_SERVER_BIN } from './lib/env.js';
import { machine } from './lib/procfs.js';
import { benchmarksDoc, buildTable, markdownTable, type RunReport } from './lib/report.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const IMPLEMENTED = ['B0', 'B1', 'B3', 'B6'] as const;
type Id = (typeof IMPLEMENTED)[number];
const PLANNED = ['B2', 'B4', 'B5', 'B7'];

const USAGE = `usage: npm run bench [-- [--quick] [ids...]]
  ids: ${IMPLEMENTED.join(' ')} (default: all). B1 always measures B0 too (its floor).
  --quick  small sizes, only checks that everything runs (< 60 s); writes bench/results/quick.json
           and leaves docs/benchmarks.md alone.`;

function parseArgs(argv: readonly string[]): { quick: boolean; ids: Id[] } {
  let quick = false;
  const asked = new Set<Id>();
  for (const a of argv) {
    if (a === '--quick' || a === '-quick') quick = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else {
      const id = a.toUpperCase();
      if ((IMPLEMENTED as readonly string[]).includes(id)) asked.add(id as Id);
      else if (PLANNED.includes(id)) throw new Error(`${id} is in BENCH.md but not implemented by this harness yet\n${USAGE}`);
      else throw new Error(`unknown argument "${a}"\n${USAGE}`);
    }
  }
  if (asked.size === 0) for (const id of IMPLEMENTED) asked.add(id);
  if (asked.has('B1')) asked.add('B0');
  return { quick, ids: IMPLEMENTED.filter((id) => asked.has(id)) };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    return 2;
  }
  const { quick, ids } = args;
  const started = performance.now();
  const loadStart = os.loadavg();
  const command = `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
  const log = (s: string): void => void process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${s}\n`);

  const env = new BenchEnv();
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

  const results: RunReport['results'] = {};
  try {
    log(`${quick ? 'quick' : 'full'} run of ${ids.join(' ')} in ${env.root} (load average ${loadStart.map((v) => v.toFixed(2)).join(' ')})`);
    const nats = await env.nats();
    log(`nats-server on port ${nats.port} (pid ${nats.pid})`);
    let b6: (() => Promise<B6Result>) | undefined;
    if (ids.includes('B6')) {
      b6 = await startB6(env, quick);
      log('B6: idle node started');
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
      results.B1 = await runB1(env, quick, b0);
      log(`B1: p50 ${results.B1.roundTrip.p50} ms, p99 ${results.B1.roundTrip.p99} ms, ratio ${results.B1.ratio}`);
    }
    if (ids.includes('B3')) {
      log('B3: message burst');
      results.B3 = await runB3(env, quick);
      log(`B3: ${results.B3.msgPerSec} msg/s (${results.B3.seconds} s), bad lines ${results.B3.badLines}`);
      if (results.B3.badLines !== 0) throw new Error(`B3: ${results.B3.badLines} lines missing or wrong in ship1's result file`);
    }
    if (b6 !== undefined) {
      log('B6: waiting for the idle period to end');
      results.B6 = await b6();
      log(`B6: idle RSS ${results.B6.rssMB} MB`);
    }
  } catch (err) {
    log(`FAILED: ${(err as Error).stack ?? String(err)}`);
    await (closing ??= env.close());
    return 1;
  }
  await (closing ??= env.close());

  const date = new Date();
  const report: RunReport = {
    date: date.toISOString(),
    command,
    quick,
    ids,
    machine: machine(NATS_SERVER_BIN),
    code: codeState(),
    loadavg: { start: loadStart.map((v) => Math.round(v * 100) / 100), end: os.loadavg().map((v) => Math.round(v * 100) / 100) },
    wallSeconds: Math.round((performance.now() - started) / 100) / 10,
    results,
    table: buildTable(results),
  };
  const resultsDir = path.join(HERE, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const jsonName = quick ? 'quick.json' : `${date.toISOString().slice(0, 10)}-${ids.join('-')}.json`;
  const jsonPath = path.join(resultsDir, jsonName);
  fs.writeFileSync(jsonPath, JSON.stringify(report, null, 2) + '\n');
  const table = markdownTable(report.table);
  process.stdout.write(`\n${table}\n\n`);
  log(`wrote ${path.relative(ROOT, jsonPath)}`);
  if (!quick) {
    const doc = path.join(ROOT, 'docs', 'benchmarks.md');
    fs.mkdirSync(path.dirname(doc), { recursive: true });
    fs.writeFileSync(doc, benchmarksDoc(report, path.relative(ROOT, jsonPath)));
    log(`wrote ${path.relative(ROOT, doc)}`);
  } else if (report.wallSeconds >= 60) {
    log(`WARNING: the quick run took ${report.wallSeconds} s (budget 60 s)`);
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
