import fs from 'node:fs';
import path from 'node:path';
import type { BenchEnv } from './lib/env.js';
import { anyDead, errorLogged, sleep, whenTrue } from './lib/env.js';
import { countNewlines, sizeOf } from './lib/files.js';
import { comm, cpuSeconds, RssSampler } from './lib/procfs.js';
import { oursStack, Turns, type BenchNode, type Kind, type PerKind, type Stack } from './lib/stack.js';
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
   * The first burst of a freshly started fleet (the nodes started for B3, 0.5 s before), not
   * counted in the median (as B2's): it also pays for compiling the code (the JIT), which a node
   * that runs for months pays once, but it is what a user meets first. Reported on its own row.
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
  /** Passes of fresh pairs whose rounds were pooled (mergeB3); absent: one. */
  passes?: number;
}

interface Fleet {
  central: BenchNode;
  ship1: BenchNode;
  pids: Map<string, number>;
  sampler: RssSampler;
  first?: B3Round;
  rounds: B3Round[];
  badLines: number;
}

/**
 * B3 for each stack (ours, and the peer in peer mode) on nodes started for it: the first burst
 * of that fresh fleet (reported on its own row), then the rounds, ours and the peer's
 * alternating (see Turns).
 */
export async function runB3(
  env: BenchEnv,
  quick: boolean,
  stacks: readonly Stack[] = [oursStack(env)],
  log?: (s: string) => void,
  fullRounds = 3,
  /** Names the pair's folders: each pass of fresh pairs needs its own (the result files are counted). */
  label = 'b3',
): Promise<PerKind<B3Result>> {
  const n = quick ? 500 : 10_000;
  const rounds = quick ? 1 : fullRounds;
  const nats = await env.nats();
  const turns = new Turns(stacks, log);
  const fleets = new Map<Kind, Fleet>();
  const fleet = (s: Stack): Fleet => fleets.get(s.kind) as Fleet;
  try {
    await turns.each(0, async (s) => {
      const { central, ship1 } = await s.startPair(label);
      const pids = new Map<string, number>([
        ['central', central.pid as number],
        ['ship1', ship1.pid as number],
        ['natsServer', nats.pid],
      ]);
      fleets.set(s.kind, { central, ship1, pids, sampler: new RssSampler(pids, 50), rounds: [], badLines: 0 });
      for (const [name, pid] of pids) {
        const c = comm(pid);
        if (name !== 'natsServer' && !s.comm.includes(c))
          throw new Error(`B3: pid ${pid} of ${s.name(name as 'central' | 'ship1')} is "${c}", expected ${s.comm.join(' or ')}`);
      }
    });
    await sleep(500); // subscriptions reach the broker (see B1)
    await turns.each(0, async (s) => {
      const f = fleet(s);
      const b = await burst(s, f, n, 'first.txt');
      f.first = b.round;
      f.badLines += b.badLines;
      await sleep(500);
    });
    for (let r = 0; r < rounds; r++) {
      await turns.each(r, async (s) => {
        const f = fleet(s);
        f.sampler.start();
        try {
          const b = await burst(s, f, n, `burst${r}.txt`);
          f.rounds.push(b.round);
          f.badLines += b.badLines;
        } finally {
          f.sampler.stop();
        }
        await sleep(500); // ACKs and the lazy commits of the last messages finish
      });
    }
  } finally {
    for (const s of stacks) {
      const f = fleets.get(s.kind);
      if (f !== undefined) await s.stop(f.central, f.ship1);
    }
  }
  const result = (k: Kind): B3Result => {
    const f = fleets.get(k);
    if (f?.first === undefined || f.rounds.length < rounds) throw new Error(`B3: ${f?.rounds.length ?? 0} of ${rounds} rounds`);
    const peak = (key: string): number => round(f.sampler.peakMB.get(key) ?? Number.NaN, 1);
    return {
      messages: n,
      warmup: f.first,
      rounds: f.rounds,
      ...medians(n, f.rounds),
      peakRssMB: { central: peak('central'), ship1: peak('ship1'), natsServer: peak('natsServer') },
      badLines: f.badLines,
    };
  };
  return { ours: result('ours'), peer: turns.peer(() => result('peer')) };
}

/** The medians over `rounds` of `n` messages each (msgPerSec from the median round's seconds). */
function medians(n: number, rounds: readonly B3Round[]): B3Round {
  const med = (g: (r: B3Round) => number): number => round(median(rounds.map(g)), 3);
  const seconds = med((r) => r.seconds);
  return {
    seconds,
    msgPerSec: Math.round(n / seconds),
    acceptedSeconds: med((r) => r.acceptedSeconds),
    cpuPer1000: {
      central: med((r) => r.cpuPer1000.central),
      ship1: med((r) => r.cpuPer1000.ship1),
      natsServer: med((r) => r.cpuPer1000.natsServer),
    },
  };
}

/**
 * B3 over passes of fresh pairs (the trust comparison): the rounds of all pooled, the medians
 * over all of them; the first burst is the medians of each pass's first burst, the peak RSS the
 * highest of any pass.
 */
export function mergeB3(passes: readonly B3Result[]): B3Result {
  const first = passes[0];
  if (first === undefined) throw new Error('B3: no pass to merge');
  const n = first.messages;
  const rounds = passes.flatMap((p) => p.rounds);
  const peak = (key: keyof Cpu): number => Math.max(...passes.map((p) => p.peakRssMB[key]));
  return {
    messages: n,
    warmup: medians(
      n,
      passes.map((p) => p.warmup),
    ),
    rounds,
    ...medians(n, rounds),
    peakRssMB: { central: peak('central'), ship1: peak('ship1'), natsServer: peak('natsServer') },
    badLines: passes.reduce((sum, p) => sum + p.badLines, 0),
    passes: passes.length,
  };
}

async function burst(s: Stack, f: Fleet, n: number, fileName: string): Promise<{ round: B3Round; badLines: number }> {
  const { central, ship1, pids } = f;
  const tag = Date.now().toString(36);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`b3 ${tag} message ${String(i).padStart(6, '0')}\n`);
  const expectedBytes = lines.reduce((a, l) => a + Buffer.byteLength(l), 0);
  const messages = lines.map((l) => ({ toNode: s.name('ship1'), method: 'REQToFileAppend', data: [l], directory: 'b3', fileName }));
  const resultDir = path.join(ship1.dataDir, 'b3', s.name('ship1'));
  const file = path.join(resultDir, fileName);
  // Its lines are counted: one left from another burst would end this one at once.
  if (fs.existsSync(file)) throw new Error(`B3: ${file} is there before the burst`);
  const cpuBefore = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid)]));
  const sent = await s.send(central, messages);
  // Holes from out-of-order planned appends read as NULs, so the size alone is not enough:
  // once it is reached, count the newlines.
  const finishedAt = await whenTrue(() => sizeOf(file) >= expectedBytes && countNewlines(file) >= n, {
    watchDir: resultDir,
    timeoutMs: n <= 1000 ? 45_000 : 600_000,
    what: `${n} lines in ${s.name('ship1')}'s ${file}`,
    pollMs: 5,
    failed: () => sent.refused() ?? anyDead(central, ship1) ?? errorLogged(central), // refused messages would never be written
  });
  const cpuAfter = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid)]));
  const answer = await sent.answer;
  const acceptedCount = answer.lines.filter((l) => l.status === 'accepted').length;
  if (s.answers && acceptedCount !== n)
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
