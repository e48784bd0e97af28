import path from 'node:path';
import { spawnHelpersOf } from '../test/support/procs.js';
import type { StewardProcess } from '../test/support/steward.js';
import { spawnRate } from './b0-floor.js';
import { anyDead, sendTimed, sleep, whenTrue, type BenchEnv } from './lib/env.js';
import { countNewlines, readLines, sizeOf } from './lib/files.js';
import { cpuSeconds, RssSampler } from './lib/procfs.js';
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

export async function runB2(env: BenchEnv, quick: boolean): Promise<B2Result> {
  const n = quick ? 100 : 1000;
  const rounds = quick ? 1 : 3;
  const nats = await env.nats();
  const [central, ship1] = await Promise.all([
    env.startNode('central', 'b2-central'),
    env.startNode('ship1', 'b2-ship1', ['-startSubREQErrorLog=false']),
  ]);
  await sleep(500); // subscriptions reach the broker (see B1)
  const pids = new Map<string, number>([
    ['central', central.pid as number],
    ['ship1', ship1.pid as number],
    ['natsServer', nats.pid],
  ]);
  const sampler = new RssSampler(pids, 50);
  const done: B2Round[] = [];
  const echoRaw: number[] = [];
  const bashRaw: number[] = [];
  let floorRssMB = Number.NaN;
  let warmup: B2Round;
  try {
    warmup = await burst(central, ship1, pids, n, 'warmup.txt');
    await sleep(500);
    for (let r = 0; r < rounds; r++) {
      // The floor right before each round, on the same machine state (a rate: half the
      // commands are enough); B0's bash command once, for reference.
      const echo = await spawnRate('echo', Math.max(100, n / 2), EXECUTOR_LIMIT);
      echoRaw.push(echo.perSec);
      floorRssMB = echo.rssMB;
      if (r === 0) bashRaw.push((await spawnRate('bash', Math.max(100, n / 4), EXECUTOR_LIMIT)).perSec);
      sampler.start();
      try {
        done.push(await burst(central, ship1, pids, n, `burst${r}.txt`));
      } finally {
        sampler.stop();
      }
      await sleep(500); // ACKs of the last replies and the lazy commits finish
    }
    const errors = central.readErrorLog();
    if (errors.trim() !== '') throw new Error(`B2: central's error log is not empty:\n${errors.slice(0, 2000)}`);
  } finally {
    await env.stopNodes(central, ship1);
  }
  const msgPerSec = Math.round(median(done.map((d) => d.msgPerSec)));
  const echoPerSec = Math.round(median(echoRaw));
  return {
    messages: n,
    warmup,
    rounds: done,
    msgPerSec,
    seconds: round(median(done.map((d) => d.seconds)), 3),
    inOrder: done.every((d) => d.inOrder),
    descents: median(done.map((d) => d.descents)),
    displaced: median(done.map((d) => d.displaced)),
    spawnFloor: { concurrency: EXECUTOR_LIMIT, echoPerSec, bashPerSec: Math.round(median(bashRaw)), echoRaw, rssMB: floorRssMB },
    ratio: round(msgPerSec / echoPerSec, 2),
    peakRssMB: {
      central: round(sampler.peakMB.get('central') ?? Number.NaN, 1),
      ship1: round(sampler.peakMB.get('ship1') ?? Number.NaN, 1),
    },
  };
}

async function burst(
  central: StewardProcess,
  ship1: StewardProcess,
  pids: ReadonlyMap<string, number>,
  n: number,
  fileName: string,
): Promise<B2Round> {
  const expected = Array.from({ length: n }, (_, i) => String(i));
  const expectedBytes = expected.reduce((a, l) => a + l.length + 1, 0);
  const input = JSON.stringify(
    expected.map((i) => ({
      toNode: 'ship1',
      method: 'REQCliCommand',
      methodArgs: ['echo', i],
      replyMethod: 'REQToFileAppend',
      directory: 'b2',
      fileName,
    })),
  );
  const resultDir = path.join(central.dataDir, 'b2', 'ship1');
  const file = path.join(resultDir, fileName);
  const cpuBefore = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid)]));
  const helperBefore = spawnHelperOf(pids.get('ship1'));
  const sent = await sendTimed(central.socketPath, input);
  // Planned appends can land out of order and leave holes (NULs) for a moment: size first,
  // then the newlines.
  const finishedAt = await whenTrue(() => sizeOf(file) >= expectedBytes && countNewlines(file) >= n, {
    watchDir: resultDir,
    timeoutMs: 600_000,
    what: `${n} replies in central's ${file}`,
    pollMs: 5,
    failed: () => sent.refused() ?? anyDead(central, ship1), // refused commands would never reply
  });
  const cpuAfter = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid)]));
  // The helper is a child of ship1 that may have started during the round (and ends 10 s after it).
  const helperAfter = spawnHelperOf(pids.get('ship1'));
  const helperCpu = helperAfter === undefined ? 0 : helperAfter.cpu - (helperBefore?.pid === helperAfter.pid ? helperBefore.cpu : 0);
  const answer = await sent.answer;
  const accepted = answer.lines.filter((l) => l.status === 'accepted').length;
  if (accepted !== n)
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
