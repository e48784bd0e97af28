import path from 'node:path';
import { spawnHelpersOf } from '../test/support/procs.js';
import { spawnRate } from './b0-floor.js';
import { anyDead, errorLogged, sleep, whenTrue, type BenchEnv } from './lib/env.js';
import { countNewlines, readLines, sizeOf } from './lib/files.js';
import { cpuSeconds, RssSampler } from './lib/procfs.js';
import { oursStack, Turns, type BenchNode, type Kind, type PerKind, type Stack } from './lib/stack.js';
import { median, round } from './lib/stats.js';

/** The node's executor runs at most this many methods at once (src/node/node.ts, Executor limit). */
export const EXECUTOR_LIMIT = 64;

export interface B2Round {
  /** Socket write -> the last reply line in central's result file (s). */
  seconds: number;
  msgPerSec: number;
  /** Socket write -> the answer lines (all commands committed to central's outbox) (s). */
  acceptedSeconds: number;
  /** The reply lines are exactly 0..n-1 in that order. */
  inOrder: boolean;
  /** Places where a reply line is smaller than the one before it. */
  descents: number;
  /** Reply lines not at their own position (line i is not "i"). */
  displaced: number;
  /** CPU seconds per 1000 commands during the round. */
  /** spawnHelper: ship1's spawn helper (a child process that forks the commands), 0 when it did not run. */
  cpuPer1000: { central: number; ship1: number; spawnHelper: number; natsServer: number };
}

export interface B2Result {
  messages: number;
  /**
   * The first burst after the nodes start, not counted in the median: it also pays for the
   * code's compilation (the JIT) and for starting the parser thread and the spawn helper, which
   * a node that runs for months pays once. As B1 drops its warm-ups; reported on its own.
   */
  warmup: B2Round;
  rounds: B2Round[];
  /** Median over the rounds. */
  msgPerSec: number;
  seconds: number;
  /** Every round's replies were in order. */
  inOrder: boolean;
  /** Median over the rounds. */
  descents: number;
  displaced: number;
  /**
   * The spawn floor at the executor's concurrency, measured in a bare node process (b0-floor.ts,
   * spawnRate) before each round: `echo N` (B2's command; n/2 spawns, median of the rounds) and,
   * before the first, `bash -c "echo hi"` (B0's command; n/4 spawns), spawns/s; with the VmRSS
   * of that process (a fork costs more the more the parent maps).
   */
  spawnFloor: { concurrency: number; echoPerSec: number; bashPerSec: number; echoRaw: number[]; rssMB: number };
  /** msgPerSec / spawnFloor.echoPerSec. */
  ratio: number;
  /** Peak VmRSS during the rounds (MB): ship1 is the process that forks the commands. */
  peakRssMB: { central: number; ship1: number };
}

interface Fleet {
  central: BenchNode;
  ship1: BenchNode;
  pids: Map<string, number>;
  sampler: RssSampler;
  warmup?: B2Round;
  rounds: B2Round[];
}

/**
 * B2 for each stack (ours, and the peer in peer mode) on fresh nodes: a first burst each (the
 * warm-up, reported apart), then the rounds, ours and the peer's alternating (see Turns), with
 * the spawn floor taken before each round.
 */
export async function runB2(
  env: BenchEnv,
  quick: boolean,
  stacks: readonly Stack[] = [oursStack(env)],
  log?: (s: string) => void,
): Promise<PerKind<B2Result>> {
  const n = quick ? 100 : 1000;
  const rounds = quick ? 1 : 3;
  const nats = await env.nats();
  const turns = new Turns(stacks, log);
  const fleets = new Map<Kind, Fleet>();
  const fleet = (s: Stack): Fleet => fleets.get(s.kind) as Fleet;
  const echoRaw: number[] = [];
  const bashRaw: number[] = [];
  let floorRssMB = Number.NaN;
  try {
    await turns.each(0, async (s) => {
      const { central, ship1 } = await s.startPair('b2');
      const pids = new Map<string, number>([
        ['central', central.pid as number],
        ['ship1', ship1.pid as number],
        ['natsServer', nats.pid],
      ]);
      fleets.set(s.kind, { central, ship1, pids, sampler: new RssSampler(pids, 50), rounds: [] });
    });
    await sleep(500); // subscriptions reach the broker (see B1)
    await turns.each(0, async (s) => {
      fleet(s).warmup = await burst(s, fleet(s), n, 'warmup.txt');
      await sleep(500);
    });
    for (let r = 0; r < rounds; r++) {
      // The floor right before each round, on the same machine state (a rate: half the
      // commands are enough); B0's bash command once, for reference.
      const echo = await spawnRate('echo', Math.max(100, n / 2), EXECUTOR_LIMIT);
      echoRaw.push(echo.perSec);
      floorRssMB = echo.rssMB;
      if (r === 0) bashRaw.push((await spawnRate('bash', Math.max(100, n / 4), EXECUTOR_LIMIT)).perSec);
      await turns.each(r, async (s) => {
        const f = fleet(s);
        f.sampler.start();
        try {
          f.rounds.push(await burst(s, f, n, `burst${r}.txt`));
        } finally {
          f.sampler.stop();
        }
        await sleep(500); // ACKs of the last replies and the lazy commits finish
      });
    }
    await turns.each(0, async (s) => {
      const errors = fleet(s).central.readErrorLog();
      if (errors.trim() !== '') throw new Error(`B2: ${s.name('central')}'s error log is not empty:\n${errors.slice(0, 2000)}`);
    });
  } finally {
    for (const s of stacks) {
      const f = fleets.get(s.kind);
      if (f !== undefined) await s.stop(f.central, f.ship1);
    }
  }
  const echoPerSec = Math.round(median(echoRaw));
  const spawnFloor = { concurrency: EXECUTOR_LIMIT, echoPerSec, bashPerSec: Math.round(median(bashRaw)), echoRaw, rssMB: floorRssMB };
  const result = (k: Kind): B2Result => {
    const f = fleets.get(k);
    if (f?.warmup === undefined || f.rounds.length < rounds) throw new Error(`B2: ${f?.rounds.length ?? 0} of ${rounds} rounds`);
    const done = f.rounds;
    const msgPerSec = Math.round(median(done.map((d) => d.msgPerSec)));
    return {
      messages: n,
      warmup: f.warmup,
      rounds: done,
      msgPerSec,
      seconds: round(median(done.map((d) => d.seconds)), 3),
      inOrder: done.every((d) => d.inOrder),
      descents: median(done.map((d) => d.descents)),
      displaced: median(done.map((d) => d.displaced)),
      spawnFloor,
      ratio: round(msgPerSec / echoPerSec, 2),
      peakRssMB: {
        central: round(f.sampler.peakMB.get('central') ?? Number.NaN, 1),
        ship1: round(f.sampler.peakMB.get('ship1') ?? Number.NaN, 1),
      },
    };
  };
  return { ours: result('ours'), peer: turns.peer(() => result('peer')) };
}

async function burst(s: Stack, f: Fleet, n: number, fileName: string): Promise<B2Round> {
  const { central, ship1, pids } = f;
  const expected = Array.from({ length: n }, (_, i) => String(i));
  const expectedBytes = expected.reduce((a, l) => a + l.length + 1, 0);
  const messages = expected.map((i) => ({
    toNode: s.name('ship1'),
    method: 'REQCliCommand',
    methodArgs: ['echo', i],
    replyMethod: 'REQToFileAppend',
    directory: 'b2',
    fileName,
  }));
  const resultDir = path.join(central.dataDir, 'b2', s.name('ship1'));
  const file = path.join(resultDir, fileName);
  const cpuBefore = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid)]));
  const helperBefore = spawnHelperOf(pids.get('ship1'));
  const sent = await s.send(central, messages);
  // Planned appends can land out of order and leave holes (NULs) for a moment: size first,
  // then the newlines.
  const finishedAt = await whenTrue(() => sizeOf(file) >= expectedBytes && countNewlines(file) >= n, {
    watchDir: resultDir,
    timeoutMs: 600_000,
    what: `${n} replies in ${s.name('central')}'s ${file}`,
    pollMs: 5,
    failed: () => sent.refused() ?? anyDead(central, ship1) ?? errorLogged(central), // refused commands would never reply
  });
  const cpuAfter = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid)]));
  // The helper is a child of ship1 that may have started during the round (and ends 10 s after it).
  const helperAfter = spawnHelperOf(pids.get('ship1'));
  const helperCpu = helperAfter === undefined ? 0 : helperAfter.cpu - (helperBefore?.pid === helperAfter.pid ? helperBefore.cpu : 0);
  const answer = await sent.answer;
  const accepted = answer.lines.filter((l) => l.status === 'accepted').length;
  if (s.answers && accepted !== n)
    throw new Error(`B2: ${accepted} of ${n} commands accepted: ${JSON.stringify(answer.lines.find((l) => l.status !== 'accepted'))}`);
  const got = readLines(file);
  const missing = new Set(expected);
  for (const l of got) if (!missing.delete(l)) throw new Error(`B2: unexpected or repeated reply line ${JSON.stringify(l)} in ${file}`);
  if (missing.size > 0) throw new Error(`B2: ${missing.size} replies missing in ${file}`);
  let descents = 0;
  let displaced = 0;
  got.forEach((l, i) => {
    if (i > 0 && Number(l) < Number(got[i - 1])) descents++;
    if (l !== String(i)) displaced++;
  });
  const seconds = (finishedAt - sent.writtenAt) / 1000;
  const per1000 = (k: string): number => round(((cpuAfter.get(k) ?? 0) - (cpuBefore.get(k) ?? 0)) / (n / 1000), 3);
  return {
    seconds: round(seconds, 3),
    msgPerSec: Math.round(n / seconds),
    acceptedSeconds: round((answer.at - sent.writtenAt) / 1000, 3),
    inOrder: descents === 0 && displaced === 0,
    descents,
    displaced,
    cpuPer1000: {
      central: per1000('central'),
      ship1: per1000('ship1'),
      spawnHelper: round(helperCpu / (n / 1000), 3),
      natsServer: per1000('natsServer'),
    },
  };
}

/** ship1's spawn helper, when one runs: its pid and CPU seconds so far. */
function spawnHelperOf(parent: number | undefined): { pid: number; cpu: number } | undefined {
  const [pid] = spawnHelpersOf(parent);
  if (pid === undefined) return undefined;
  try {
    return { pid, cpu: cpuSeconds(pid) };
  } catch {
    return undefined; // ended meanwhile
  }
}
