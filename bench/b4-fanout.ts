import fs from 'node:fs';
import path from 'node:path';
import type { StewardProcess } from '../test/support/steward.js';
import { anyDead, sendTimed, sleep, type BenchEnv } from './lib/env.js';
import { sizeOf } from './lib/files.js';
import { cpuSeconds, RssSampler } from './lib/procfs.js';
import { provisionKeys } from './lib/keys.js';
import { runJobRounds, type B4Jobs } from './b4-jobs.js';
import { SimFleet, simNodeName } from './lib/sim.js';
import { median, round, roundSummary, summarize, type Summary } from './lib/stats.js';

/** One fan-out: a REQPing to `n` nodes in one message (toNodes). */
export interface B4Round {
  n: number;
  /** Socket write -> the first, the median and the last reply file on central (ms). */
  firstMs: number;
  p50Ms: number;
  lastMs: number;
  /** Socket write -> the input's answer (toNodes expanded, n messages committed) (ms). */
  acceptedMs: number;
  /** CPU seconds during the round: central, and all simulator processes together. */
  cpu: { central: number; sims: number; natsServer: number };
}

export interface B4Size {
  n: number;
  rounds: B4Round[];
  /** Over the rounds: time to the last reply (ms). */
  last: Summary;
  /** n / median time to the last reply. */
  repliesPerSec: number;
}

export interface B4Result {
  /** Simulated nodes running (each a real StewardNode with its own connection and store). */
  fleet: number;
  processes: number;
  /** Where the simulated nodes' stores are: tmpfs (/dev/shm) or disk (the bench temp folder). */
  simStorage: 'tmpfs' | 'disk';
  /** Hello interval of the simulated nodes (s), the default. */
  helloSeconds: number;
  /** From spawning the simulators to every node subscribed (s). */
  fleetStartSeconds: number;
  sizes: B4Size[];
  /** Peak VmRSS during the rounds: central, and the largest simulator process (MB). */
  peakRssMB: { central: number; simProcess: number };
  /** VmRSS per simulated node: the largest simulator process divided by its nodes (MB). */
  simRssPerNodeMB: number;
  /** The same fan-out as a job, `steward job` on it, a rollout (issue 19). */
  jobs?: B4Jobs;
}

const HELLO_SECONDS = 30;

export async function runB4(env: BenchEnv, quick: boolean, log: (s: string) => void): Promise<B4Result> {
  const fleetSize = quick ? 20 : 1000;
  const perProcess = quick ? 20 : 250;
  const sizes = quick ? [20] : [100, 1000];
  const rounds = quick ? 1 : 3;
  const nats = await env.nats();
  const simRoot = simStorageRoot(env);
  // central knows the fleet's keys before it starts (see provisionKeys).
  const simLabel = 'b4-sim';
  const names = Array.from({ length: fleetSize }, (_, i) => simNodeName('n', i));
  await provisionKeys(path.join(env.root, 'b4-central', 'var', 'lib'), names, (n) => path.join(simRoot, simLabel, n));
  const central = await env.startNode('central', 'b4-central');
  const { fleet, startMs } = await SimFleet.start(env, {
    count: fleetSize,
    perProcess,
    central: 'central',
    label: simLabel,
    helloSeconds: HELLO_SECONDS,
    flags: ['-startSubREQErrorLog=false'],
    root: simRoot,
  });
  log(`B4: ${fleetSize} simulated nodes in ${fleet.pids.length} processes subscribed in ${(startMs / 1000).toFixed(1)} s`);
  try {
    // Every node's first hello has reached central: all of them are connected and subscribed,
    // and the start-up burst of hellos is behind us before anything is timed.
    await helloFromEvery(central, fleet);
    await sleep(quick ? 200 : 2000);

    const pids = new Map<string, number>([
      ['central', central.pid as number],
      ...fleet.pids.map((p, i) => [`sim${i}`, p] as [string, number]),
    ]);
    const sampler = new RssSampler(pids, 100);
    sampler.start();
    const out: B4Size[] = [];
    let jobs: B4Jobs | undefined;
    let k = 0;
    try {
      for (const n of sizes) {
        const done: B4Round[] = [];
        for (let r = 0; r < rounds; r++) {
          const round = await fanOut(central, fleet, fleet.names.slice(0, n), `r${k++}.txt`, nats.pid);
          log(
            `B4: ${n} nodes, round ${r + 1}: last reply after ${round.lastMs.toFixed(0)} ms (first ${round.firstMs.toFixed(0)}, median ${round.p50Ms.toFixed(0)})`,
          );
          done.push(round);
          await sleep(quick ? 200 : 1000); // the replies' ACKs and the lazy commits finish
        }
        const last = roundSummary(summarize(done.map((d) => d.lastMs)), 1);
        out.push({ n, rounds: done, last, repliesPerSec: Math.round(n / (median(done.map((d) => d.lastMs)) / 1000)) });
      }
      jobs = await runJobRounds(central, fleet, fleet.names.slice(0, sizes.at(-1)), quick ? 1 : 3, log);
    } finally {
      sampler.stop();
    }
    const simPeak = Math.max(...fleet.pids.map((_, i) => sampler.peakMB.get(`sim${i}`) ?? 0));
    noErrors(central, 'B4');
    return {
      fleet: fleetSize,
      processes: fleet.pids.length,
      simStorage: simRoot.startsWith('/dev/shm/') ? 'tmpfs' : 'disk',
      helloSeconds: HELLO_SECONDS,
      fleetStartSeconds: round(startMs / 1000, 1),
      sizes: out,
      peakRssMB: { central: round(sampler.peakMB.get('central') ?? Number.NaN, 1), simProcess: round(simPeak, 1) },
      simRssPerNodeMB: round(simPeak / perProcess, 2),
      ...(jobs === undefined ? {} : { jobs }),
    };
  } finally {
    await fleet.stop();
    await env.stopNodes(central);
  }
}

/** Waits until central has filed a hello from every node of the fleet (60 s at most). */
export function helloFromEvery(central: StewardProcess, fleet: SimFleet): Promise<void> {
  const helloLog = (name: string): string => path.join(central.dataDir, 'hello-messages', name, 'hello.log');
  return pollUntil(() => fleet.names.every((n) => fs.existsSync(helloLog(n))), {
    timeoutMs: 60_000,
    what: `hellos from ${fleet.names.length} nodes at ${central.opts.name}`,
    failed: () => anyDead(central) ?? fleet.dead(),
  });
}

/** Throws when central's error log holds anything: a benchmark's figures count only if nothing went wrong. */
export function noErrors(central: StewardProcess, what: string): void {
  const errors = central.readErrorLog();
  if (errors.trim() !== '') throw new Error(`${what}: ${central.opts.name}'s error log is not empty:\n${errors.slice(0, 2000)}`);
}

/**
 * Where the simulated nodes keep their stores and data: in RAM (/dev/shm) when the machine has
 * it. On real machines each node syncs its own disk, in parallel with the others; here 1000
 * nodes would queue their fsyncs (four or so per ping) on one disk and in four event loops, and
 * the figure would measure that instead of central and the broker. central stays on disk.
 */
export function simStorageRoot(env: BenchEnv): string {
  const shm = '/dev/shm';
  try {
    const dir = fs.mkdtempSync(path.join(shm, 'steward-bench-sim-'));
    env.atClose(async () => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
  } catch {
    return env.root;
  }
}

/** Sends one REQPing to `targets` via toNodes; waits until central holds every node's reply. */
export async function fanOut(
  central: StewardProcess,
  fleet: SimFleet,
  targets: string[],
  fileName: string,
  natsPid: number,
): Promise<B4Round> {
  const file = (name: string): string => path.join(central.dataDir, 'b4', name, fileName);
  const pending = new Set(targets);
  const arrivals: number[] = [];
  const cpu = (): { central: number; sims: number; natsServer: number } => ({
    central: cpuSeconds(central.pid as number),
    sims: fleet.pids.reduce((a, p) => a + cpuSeconds(p), 0),
    natsServer: cpuSeconds(natsPid),
  });
  const before = cpu();
  const input = JSON.stringify([{ toNodes: targets, method: 'REQPing', directory: 'b4', fileName }]);
  const sent = await sendTimed(central.socketPath, input);
  await pollUntil(
    () => {
      const now = performance.now();
      for (const name of pending) {
        if (sizeOf(file(name)) > 0) {
          pending.delete(name);
          arrivals.push(now - sent.writtenAt);
        }
      }
      return pending.size === 0;
    },
    { timeoutMs: 120_000, what: `${targets.length} ping replies at central (${fileName})`, failed: () => anyDead(central) ?? fleet.dead() },
  );
  const after = cpu();
  const answer = await sent.answer;
  const accepted = answer.lines.filter((l) => l.status === 'accepted').length;
  if (accepted !== targets.length)
    throw new Error(
      `B4: ${accepted} of ${targets.length} fan-out messages accepted: ${JSON.stringify(answer.lines.find((l) => l.status !== 'accepted'))}`,
    );
  for (const name of targets) {
    const text = fs.readFileSync(file(name), 'utf8');
    if (!text.endsWith(`ping answered by ${name}\n`)) throw new Error(`B4: unexpected reply from ${name}: ${JSON.stringify(text)}`);
  }
  const s = summarize(arrivals);
  return {
    n: targets.length,
    firstMs: round(s.min, 1),
    p50Ms: round(s.p50, 1),
    lastMs: round(s.max, 1),
    acceptedMs: round(answer.at - sent.writtenAt, 1),
    cpu: {
      central: round(after.central - before.central, 2),
      sims: round(after.sims - before.sims, 2),
      natsServer: round(after.natsServer - before.natsServer, 2),
    },
  };
}

/**
 * Polls `check` every 10 ms until it is true. Arrival times are therefore known to 10 ms, which
 * is fine against a 2 s target; an inotify watch on 1000 folders would cost more than it gives.
 */
function pollUntil(check: () => boolean, o: { timeoutMs: number; what: string; failed?: () => string | undefined }): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = performance.now() + o.timeoutMs;
    const tick = (): void => {
      if (check()) return resolve();
      const reason = o.failed?.();
      if (reason !== undefined) return reject(new Error(`${reason} while waiting for ${o.what}`));
      if (performance.now() > end) return reject(new Error(`timed out after ${o.timeoutMs} ms waiting for ${o.what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}
