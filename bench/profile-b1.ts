/**
 * Where B1's time goes, from CPU profiles of the two nodes taken while B1 runs:
 * `npm run build && npx tsx bench/profile-b1.ts [--quick] [--seconds s] [--interval µs] [--top n] [--out dir]`.
 *
 * Starts a nats-server, central and ship1 (the real bin/steward, each with `-profilingPort` on a
 * free loopback port), sends B1's warm-ups, then asks both nodes for a CPU profile of `seconds`
 * (GET /debug/cpu, sampled every `interval` µs) and runs B1's exchange (a command to ship1, its
 * output appended to a file on central, 60 ms apart as B1 paces them) until the profiles end. It
 * writes both profiles (`central.cpuprofile`, `ship1.cpuprofile`: Chrome DevTools and speedscope
 * open them) into `--out` (default: a new temp folder) and prints, per process, its busy time per
 * exchange and the functions and files with the most self time. See docs/latency.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '../test/support/eventually.js';
import { freePorts } from '../test/support/ports.js';
import type { StewardProcess } from '../test/support/steward.js';
import { PACE_MS } from './b0-floor.js';
import { b1Message, readOr } from './b1-roundtrip.js';
import { analyse, topLines, type CpuProfile } from './lib/cpu-profile.js';
import { anyDead, BenchEnv, errorLogged, sendTimed, sleep, whenTrue } from './lib/env.js';
import { round, summarize } from './lib/stats.js';

const USAGE = `usage: npx tsx bench/profile-b1.ts [--quick] [--seconds s] [--interval µs] [--top n] [--out dir] [--flag f]...
  --seconds   how long both profiles run, B1's exchange repeated meanwhile (default 10; --quick 3)
  --interval  sampling interval in microseconds (default 100: an exchange keeps a node busy for
              about a millisecond, V8's default of 1000 would catch a sample or two of it)
  --top       functions and files listed per process (default 15)
  --out       folder for central.cpuprofile and ship1.cpuprofile (default: a new temp folder)
  --flag      a steward flag both nodes get (repeatable): --flag -trust=off profiles what the proofs cost
Run \`npm run build\` first: the nodes run dist/ through bin/steward.`;

interface Options {
  seconds: number;
  intervalUs: number;
  top: number;
  out: string | undefined;
  flags: string[];
}

function parse(argv: readonly string[]): Options {
  const o: Options = { seconds: 10, intervalUs: 100, top: 15, out: undefined, flags: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.seconds = 3;
    else if (a === '--seconds') o.seconds = Number(next());
    else if (a === '--interval') o.intervalUs = Number(next());
    else if (a === '--top') o.top = Number(next());
    else if (a === '--out') o.out = next();
    else if (a === '--flag') o.flags.push(next());
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else throw new Error(`unknown argument "${a ?? ''}"`);
  }
  if (!Number.isInteger(o.seconds) || o.seconds < 2 || o.seconds > 300) throw new Error('--seconds: a whole number from 2 to 300');
  return o;
}

/** Asks a node for a CPU profile; resolves with it when the node answers at the end. */
async function cpuProfile(port: number, token: string, o: Options): Promise<CpuProfile> {
  const res = await fetch(`http://127.0.0.1:${port}/debug/cpu?seconds=${o.seconds}&interval=${o.intervalUs}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET /debug/cpu on port ${port}: ${res.status} ${body.slice(0, 300)}`);
  return JSON.parse(body) as CpuProfile;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const out = o.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'steward-profile-b1-'));
  fs.mkdirSync(out, { recursive: true });
  const env = new BenchEnv(o.flags);
  const log = (s: string): void => void process.stderr.write(`[profile-b1] ${s}\n`);
  try {
    const [centralPort, shipPort] = (await freePorts(2)) as [number, number];
    const [central, ship1] = await Promise.all([
      env.startNode('central', 'central', [`-profilingPort=127.0.0.1:${centralPort}`]),
      env.startNode('ship1', 'ship1', ['-startSubREQErrorLog=false', `-profilingPort=127.0.0.1:${shipPort}`]),
    ]);
    await sleep(500); // subscriptions reach the broker (see B1)
    const resultDir = path.join(central.dataDir, 'b1', 'ship1');
    let n = 0;
    const exchange = async (): Promise<number> => {
      const fileName = `s${n++}.txt`;
      const file = path.join(resultDir, fileName);
      const sent = await sendTimed(central.socketPath, JSON.stringify(b1Message('b1', fileName)));
      const done = await whenTrue(() => readOr(file) === 'hi\n', {
        watchDir: resultDir,
        timeoutMs: 30_000,
        what: `"hi" in ${file}`,
        failed: () => anyDead(central, ship1) ?? errorLogged(central),
      });
      await sleep(PACE_MS); // as B1: the lazy commits of one exchange do not fall into the next
      return done - sent.writtenAt;
    };
    for (let i = 0; i < 5; i++) await exchange(); // B1's warm-ups
    const token = (node: StewardProcess): string => fs.readFileSync(path.join(node.dir, 'etc', 'token'), 'utf8').trim();
    const started = (node: StewardProcess): number => node.stderr.split('cpu profile started').length;
    const before = [started(central), started(ship1)];
    const profiles = Promise.all([cpuProfile(centralPort, token(central), o), cpuProfile(shipPort, token(ship1), o)]);
    profiles.catch(() => {}); // awaited below
    await eventually(() => started(central) > (before[0] ?? 0) && started(ship1) > (before[1] ?? 0), {
      what: 'both profiles to start',
      timeoutMs: 10_000,
      intervalMs: 5,
    });
    log(`profiling central and ship1 for ${o.seconds} s, B1's exchange meanwhile`);
    const t0 = performance.now();
    const times: number[] = [];
    // Exchanges until the profiles end (with a margin for the last one to finish inside them).
    while (performance.now() - t0 < o.seconds * 1000 - 300) times.push(await exchange());
    const [pc, ps] = await profiles;
    fs.writeFileSync(path.join(out, 'central.cpuprofile'), JSON.stringify(pc));
    fs.writeFileSync(path.join(out, 'ship1.cpuprofile'), JSON.stringify(ps));
    const rt = summarize(times);
    const lines = [
      `B1 exchanges while profiled: ${times.length} in ${o.seconds} s, round trip p50 ${round(rt.p50, 2)} ms, p99 ${round(rt.p99, 2)} ms (sampling every ${o.intervalUs} µs slows the nodes: compare with npm run bench, not with these)`,
      `profiles: ${path.join(out, 'central.cpuprofile')}, ${path.join(out, 'ship1.cpuprofile')}`,
    ];
    for (const [name, p] of [
      ['central', pc],
      ['ship1', ps],
    ] as const) {
      // The profiler's own start (V8 logs the code already compiled) lands in the first samples.
      const a = analyse(p, 0, Number.POSITIVE_INFINITY, (f) => f.url.endsWith('/metrics/profiling.js'));
      lines.push(
        '',
        `== ${name}: busy ${round(a.busyMs, 1)} ms of ${round(a.windowMs / 1000, 2)} s, ${round(a.busyMs / Math.max(times.length, 1), 2)} ms per exchange (main thread, JavaScript and V8; waiting is not counted; the profiler's own start, ${round(a.excludedMs, 1)} ms, left out)`,
        'self time by function:',
        ...topLines(a.self, a.busyMs, o.top),
        'self time by file / package:',
        ...topLines(a.selfFile, a.busyMs, Math.min(o.top, 10)),
        'total (inclusive) time by function, for the callers of the above:',
        ...topLines(a.total, a.busyMs, Math.min(o.top, 10)),
      );
    }
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await env.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`profile-b1: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    process.exit(1);
  },
);
