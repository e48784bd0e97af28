import path from 'node:path';
import { anyDead, errorLogged, sleep, whenTrue, type BenchEnv } from './lib/env.js';
import { countNewlines, readLines, sizeOf } from './lib/files.js';
import { cpuSeconds, rssMB, RssSampler, statusMB } from './lib/procfs.js';
import { oursStack, Turns, type BenchNode, type Kind, type PerKind, type Stack } from './lib/stack.js';
import { median, round } from './lib/stats.js';

export interface B5Round {
  /** ship1 started (process spawned) -> the last message written in its result file (s). */
  seconds: number;
  /**
   * ship1 started -> it can be sent to (s): ours logged "subscribed" (seen by a 50 ms poll of its
   * log); the peer's hello reached central (a 20 ms poll).
   */
  subscribedSeconds: number;
  /** Socket write -> all messages accepted (committed to central's outbox) (s). */
  acceptedSeconds: number;
  /** central's VmRSS at the end of the hold, with the whole backlog queued (MB). */
  holdRssMB: number;
  /** Peak RSS while the backlog drains (MB): central sampled every 50 ms, ship1 its VmHWM. */
  drainPeakRssMB: { central: number; ship1: number };
  /** CPU seconds per 1000 messages while the backlog drains. */
  cpuPer1000: { central: number; ship1: number };
}

export interface B5Result {
  messages: number;
  holdSeconds: number;
  rounds: B5Round[];
  /** Medians over the rounds. */
  seconds: number;
  msgPerSec: number;
  holdRssMB: number;
  /** central's VmRSS before anything was queued, in the first round (MB). */
  idleRssMB: number;
}

interface Fleet {
  central: BenchNode;
  ship1: BenchNode;
  idleRssMB: number;
  rounds: B5Round[];
}

/**
 * ship1 runs once (so it is a node that exists), is stopped, `n` REQToFileAppend messages for it
 * are queued on central (ours: retries -1, they wait for it; the peer: see Stack.untilDelivered),
 * held a while, then ship1 is started and the clock runs until its result file holds every
 * message. ship1 sends hellos (the default interval), as a real node does: its first hello is
 * how central learns it is back. In peer mode the rounds of ours and the peer's alternate.
 */
export async function runB5(
  env: BenchEnv,
  quick: boolean,
  stacks: readonly Stack[] = [oursStack(env)],
  log?: (s: string) => void,
): Promise<PerKind<B5Result>> {
  const n = quick ? 500 : 10_000;
  const rounds = quick ? 1 : 3;
  const holdSeconds = quick ? 0.5 : 2;
  const turns = new Turns(stacks, log);
  const fleets = new Map<Kind, Fleet>();
  const fleet = (s: Stack): Fleet => fleets.get(s.kind) as Fleet;
  try {
    await turns.each(0, async (s) => {
      const { central, ship1 } = await s.startPair('b5', ['-startPubREQHello=30']);
      fleets.set(s.kind, { central, ship1, idleRssMB: Number.NaN, rounds: [] });
    });
    await sleep(500);
    await turns.each(0, async (s) => void (fleet(s).idleRssMB = round(rssMB(fleet(s).central.pid as number), 1)));
    for (let r = 0; r < rounds; r++) {
      await turns.each(r, async (s) => {
        const f = fleet(s);
        await s.stop(f.ship1);
        f.rounds.push(await backlog(s, f.central, f.ship1, n, `backlog${r}.txt`, holdSeconds));
        await sleep(500);
      });
    }
    await turns.each(0, async (s) => {
      const errors = fleet(s).central.readErrorLog();
      if (errors.trim() !== '') throw new Error(`B5: ${s.name('central')}'s error log is not empty:\n${errors.slice(0, 2000)}`);
    });
  } finally {
    for (const s of stacks) {
      const f = fleets.get(s.kind);
      if (f !== undefined) await s.stop(f.central, f.ship1);
    }
  }
  const result = (k: Kind): B5Result => {
    const f = fleets.get(k);
    if (f === undefined || f.rounds.length < rounds) throw new Error(`B5: ${f?.rounds.length ?? 0} of ${rounds} rounds`);
    const done = f.rounds;
    const seconds = median(done.map((d) => d.seconds));
    return {
      messages: n,
      holdSeconds,
      rounds: done,
      seconds: round(seconds, 3),
      msgPerSec: Math.round(n / seconds),
      holdRssMB: round(median(done.map((d) => d.holdRssMB)), 1),
      idleRssMB: f.idleRssMB,
    };
  };
  return { ours: result('ours'), peer: turns.peer(() => result('peer')) };
}

async function backlog(s: Stack, central: BenchNode, ship1: BenchNode, n: number, fileName: string, holdSeconds: number): Promise<B5Round> {
  const tag = Date.now().toString(36);
  const lines = Array.from({ length: n }, (_, i) => `b5 ${tag} message ${String(i).padStart(6, '0')}\n`);
  const expectedBytes = lines.reduce((a, l) => a + Buffer.byteLength(l), 0);
  const messages = lines.map((l) => ({
    toNode: s.name('ship1'),
    method: 'REQToFileAppend',
    data: [l],
    directory: 'b5',
    fileName,
    ...s.untilDelivered,
  }));
  const sent = await s.send(central, messages);
  const answer = await sent.answer;
  const accepted = answer.lines.filter((l) => l.status === 'accepted').length;
  if (s.answers && accepted !== n)
    throw new Error(`B5: ${accepted} of ${n} messages accepted: ${JSON.stringify(answer.lines.find((l) => l.status !== 'accepted'))}`);
  await sleep(holdSeconds * 1000);
  const holdRssMB = round(rssMB(central.pid as number), 1);

  const resultDir = path.join(ship1.dataDir, 'b5', s.name('ship1'));
  const file = path.join(resultDir, fileName);
  const centralPid = central.pid as number;
  const cpuCentral = cpuSeconds(centralPid);
  const sampler = new RssSampler(new Map([['central', centralPid]]), 50);
  sampler.start();
  const startedAt = performance.now();
  let subscribedAt: number;
  let finishedAt: number;
  let ship1Pid: number;
  try {
    const restart = s.restart(ship1).then(() => performance.now());
    // The result folder only appears once ship1 writes: the poll covers the time before.
    const finished = whenTrue(() => sizeOf(file) >= expectedBytes && countNewlines(file) >= n, {
      watchDir: resultDir,
      timeoutMs: 600_000,
      what: `${n} lines in ${s.name('ship1')}'s ${file}`,
      pollMs: 5,
      failed: () => anyDead(central, ship1) ?? errorLogged(central),
    });
    finished.catch(() => {}); // awaited below, after the restart
    subscribedAt = await restart;
    ship1Pid = ship1.pid as number;
    finishedAt = await finished;
  } finally {
    sampler.stop();
  }
  const cpuCentralAfter = cpuSeconds(centralPid);
  // ship1 started for this round: all of its CPU so far is start-up plus the drain.
  const cpuShip1 = cpuSeconds(ship1Pid);
  const ship1Peak = round(statusMB(ship1Pid, 'VmHWM'), 1); // a fresh process: its high-water mark is the drain's peak
  const got = readLines(file);
  const want = new Set(lines.map((l) => l.slice(0, -1)));
  for (const l of got) if (!want.delete(l)) throw new Error(`B5: unexpected or repeated line ${JSON.stringify(l)} in ${file}`);
  if (want.size > 0) throw new Error(`B5: ${want.size} lines missing in ${file}`);
  return {
    seconds: round((finishedAt - startedAt) / 1000, 3),
    subscribedSeconds: round((subscribedAt - startedAt) / 1000, 3),
    acceptedSeconds: round((answer.at - sent.writtenAt) / 1000, 3),
    holdRssMB,
    drainPeakRssMB: { central: round(sampler.peakMB.get('central') ?? Number.NaN, 1), ship1: ship1Peak },
    cpuPer1000: { central: round((cpuCentralAfter - cpuCentral) / (n / 1000), 3), ship1: round(cpuShip1 / (n / 1000), 3) },
  };
}
