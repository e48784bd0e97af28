import fs from 'node:fs';
import path from 'node:path';
import type { StewardProcess } from '../test/support/steward.js';
import type { BenchEnv } from './lib/env.js';
import { anyDead, sendTimed, sleep, whenTrue } from './lib/env.js';
import { countNewlines, sizeOf } from './lib/files.js';
import { comm, cpuSeconds, RssSampler } from './lib/procfs.js';
import { median, round } from './lib/stats.js';

type Cpu = { central: number; ship1: number; natsServer: number };

export interface B3Round {
  seconds: number;
  msgPerSec: number;
  acceptedSeconds: number;
  cpuPer1000: Cpu;
}

export interface B3Result {
  messages: number;
  /**
   * The first burst after the nodes start, not counted in the median (as B2's): it also pays for
   * compiling the code (the JIT), which a node that runs for months pays once.
   */
  warmup: B3Round;
  /** Bursts sent, one after the other, to the same two nodes (a new result file each). */
  rounds: B3Round[];
  /** Socket write -> the last line written in ship1's result file (s); median over the rounds. */
  seconds: number;
  /** messages / seconds of the median round. */
  msgPerSec: number;
  /** Socket write -> the answer lines (all messages parsed and committed to central's outbox) (s); median. */
  acceptedSeconds: number;
  /** CPU seconds (user + system) per 1000 messages, during the burst; median over the rounds of each. */
  cpuPer1000: Cpu;
  /** Peak VmRSS during the bursts, sampled every 50 ms (MB). */
  peakRssMB: Cpu;
  /** Lines in the result files that are not exactly the expected, unique lines (must be 0). */
  badLines: number;
}

export async function runB3(env: BenchEnv, quick: boolean): Promise<B3Result> {
  const n = quick ? 500 : 10_000;
  const rounds = quick ? 1 : 3;
  const nats = await env.nats();
  const [central, ship1] = await Promise.all([
    env.startNode('central', 'b3-central'),
    env.startNode('ship1', 'b3-ship1', ['-startSubREQErrorLog=false']),
  ]);
  await sleep(500); // subscriptions reach the broker (see B1)
  try {
    const pids = new Map<string, number>([
      ['central', central.pid as number],
      ['ship1', ship1.pid as number],
      ['natsServer', nats.pid],
    ]);
    for (const [name, pid] of pids) {
      const c = comm(pid);
      // Node 24 names its main thread, which is what comm shows: "MainThread" (earlier: "node").
      if (name !== 'natsServer' && c !== 'node' && c !== 'MainThread')
        throw new Error(`B3: pid ${pid} of ${name} is "${c}", expected the node process`);
    }
    const sampler = new RssSampler(pids, 50);
    const done: B3Round[] = [];
    const first = await burst(central, ship1, pids, n, 'warmup.txt');
    let badLines = first.badLines;
    await sleep(500);
    for (let r = 0; r < rounds; r++) {
      sampler.start();
      try {
        const b = await burst(central, ship1, pids, n, `burst${r}.txt`);
        done.push(b.round);
        badLines += b.badLines;
      } finally {
        sampler.stop();
      }
      await sleep(500); // ACKs and the lazy commits of the last messages finish
    }
    const med = (f: (r: B3Round) => number, digits = 3): number => round(median(done.map(f)), digits);
    const seconds = med((r) => r.seconds);
    const peak = (k: string): number => round(sampler.peakMB.get(k) ?? Number.NaN, 1);
    return {
      messages: n,
      warmup: first.round,
      rounds: done,
      seconds,
      msgPerSec: Math.round(n / seconds),
      acceptedSeconds: med((r) => r.acceptedSeconds),
      cpuPer1000: {
        central: med((r) => r.cpuPer1000.central),
        ship1: med((r) => r.cpuPer1000.ship1),
        natsServer: med((r) => r.cpuPer1000.natsServer),
      },
      peakRssMB: { central: peak('central'), ship1: peak('ship1'), natsServer: peak('natsServer') },
      badLines,
    };
  } finally {
    await env.stopNodes(central, ship1);
  }
}

async function burst(
  central: StewardProcess,
  ship1: StewardProcess,
  pids: ReadonlyMap<string, number>,
  n: number,
  fileName: string,
): Promise<{ round: B3Round; badLines: number }> {
  const tag = Date.now().toString(36);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`b3 ${tag} message ${String(i).padStart(6, '0')}\n`);
  const expectedBytes = lines.reduce((a, l) => a + Buffer.byteLength(l), 0);
  const input = JSON.stringify(lines.map((l) => ({ toNode: 'ship1', method: 'REQToFileAppend', data: [l], directory: 'b3', fileName })));
  const resultDir = path.join(ship1.dataDir, 'b3', 'ship1');
  const file = path.join(resultDir, fileName);
  const cpuBefore = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid)]));
  const sent = await sendTimed(central.socketPath, input);
  // Holes from out-of-order planned appends read as NULs, so the size alone is not enough:
  // once it is reached, count the newlines.
  const finishedAt = await whenTrue(() => sizeOf(file) >= expectedBytes && countNewlines(file) >= n, {
    watchDir: resultDir,
    timeoutMs: n <= 1000 ? 45_000 : 600_000,
    what: `${n} lines in ship1's ${file}`,
    pollMs: 5,
    failed: () => sent.refused() ?? anyDead(central, ship1), // refused messages would never be written
  });
  const cpuAfter = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid)]));
  const answer = await sent.answer;
  const acceptedCount = answer.lines.filter((l) => l.status === 'accepted').length;
  if (acceptedCount !== n)
    throw new Error(`B3: ${acceptedCount} of ${n} messages accepted: ${JSON.stringify(answer.lines.find((l) => l.status !== 'accepted'))}`);
  const got = fs.readFileSync(file, 'utf8').split('\n');
  got.pop(); // after the last newline
  const want = new Set(lines.map((l) => l.slice(0, -1)));
  let badLines = 0;
  for (const l of got) {
    if (want.has(l)) want.delete(l);
    else badLines++;
  }
  badLines += want.size;
  const seconds = (finishedAt - sent.writtenAt) / 1000;
  const per1000 = (k: string): number => round(((cpuAfter.get(k) ?? 0) - (cpuBefore.get(k) ?? 0)) / (n / 1000), 3);
  return {
    round: {
      seconds: round(seconds, 3),
      msgPerSec: Math.round(n / seconds),
      acceptedSeconds: round((answer.at - sent.writtenAt) / 1000, 3),
      cpuPer1000: { central: per1000('central'), ship1: per1000('ship1'), natsServer: per1000('natsServer') },
    },
    badLines,
  };
}
