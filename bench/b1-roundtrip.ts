import fs from 'node:fs';
import path from 'node:path';
import { PACE_MS, type B0Result } from './b0-floor.js';
import { anyDead, errorLogged, sleep, whenTrue, type BenchEnv } from './lib/env.js';
import { oursStack, Turns, type BenchNode, type Kind, type PerKind, type Stack } from './lib/stack.js';
import { round, roundSummary, summarize, type Summary } from './lib/stats.js';

/**
 * Durable commits on the B1 path (see docs/benchmarks.md): ship1's receipt (committed as started
 * when the command starts at once), central's receipt of the reply and the result file's
 * fdatasync. The two outbox commits (the command on central, the reply on ship1) are synced
 * while the message is already on its way (src/node/node.ts, submit), and the delivered and done
 * marks are lazy (they ride along with a later commit, or go LAZY_MS = 25 ms after): all off the
 * path.
 */
export const B1_FSYNCS = 3;
/** NATS round trips on the B1 path: command + its ACK, reply + its ACK, each a request/reply. */
export const B1_NATS_ROUND_TRIPS = 4;

export interface B1Result {
  /** Socket write -> the result file on central holds "hi\n" (ms). */
  roundTrip: Summary;
  /** Socket write -> the input's answer line (parse + outbox commit on central) (ms). */
  accepted: Summary;
  /** spawn + 4 NATS round trips + 3 fsyncs, from B0 medians of the same run (ms). */
  floorMs: number;
  /** roundTrip.p50 / floorMs. */
  ratio: number;
  /** The same floor from B0's paced parts (each after PACE_MS idle, as B1's samples come) (ms). */
  pacedFloorMs: number;
  /** roundTrip.p50 / pacedFloorMs: for comparison only, the target is against floorMs. */
  pacedRatio: number;
  warmup: number;
  samples: number;
  /** Every sample, in order (ms). */
  raw: number[];
  /** Every sample's `accepted`, in order (ms). */
  acceptedRaw: number[];
}

/** The B1 exchange: a command to `ship1` whose output ("hi\n") comes back to `<directory>/<ship1>/<fileName>` on central. */
export function b1Message(directory: string, fileName: string, ship1 = 'ship1'): Record<string, unknown>[] {
  return [
    {
      toNode: ship1,
      method: 'REQCliCommand',
      methodArgs: ['bash', '-c', 'echo hi'],
      replyMethod: 'REQToFileAppend',
      directory,
      fileName,
    },
  ];
}

/**
 * B1 for each stack (ours, and the peer in peer mode), sample after sample alternating between
 * them (see Turns), each pair of nodes started fresh for B1 (in folders named after `label`: a
 * second pass in the same run needs another).
 */
export async function runB1(
  env: BenchEnv,
  quick: boolean,
  floor: B0Result,
  stacks: readonly Stack[] = [oursStack(env)],
  log?: (s: string) => void,
  label = 'b1',
): Promise<PerKind<B1Result>> {
  const warmup = quick ? 1 : 5;
  const samples = quick ? 5 : 50;
  const turns = new Turns(stacks, log);
  const pairs = new Map<Kind, { central: BenchNode; ship1: BenchNode }>();
  const times = new Map<Kind, { roundTrips: number[]; accepted: number[] }>();
  try {
    await turns.each(0, async (s) => {
      pairs.set(s.kind, await s.startPair(label));
      times.set(s.kind, { roundTrips: [], accepted: [] });
    });
    // 'subscribed' is logged before the subscriptions reach the broker: give them a moment, so
    // the first attempt does not meet "no responders" and wait out an ACK timeout.
    await sleep(500);
    for (let i = 0; i < warmup + samples; i++) {
      await turns.each(i, async (s) => {
        const { central, ship1 } = pairs.get(s.kind) as { central: BenchNode; ship1: BenchNode };
        const t = times.get(s.kind) as { roundTrips: number[]; accepted: number[] };
        const resultDir = path.join(central.dataDir, 'b1', s.name('ship1'));
        const fileName = `s${i}.txt`;
        const file = path.join(resultDir, fileName);
        const sent = await s.send(central, b1Message('b1', fileName, s.name('ship1')));
        const done = await whenTrue(() => readOr(file) === 'hi\n', {
          watchDir: resultDir,
          timeoutMs: 30_000,
          what: `B1 sample ${i}: "hi" in ${file}`,
          failed: () => anyDead(central, ship1) ?? errorLogged(central),
        });
        const answer = await sent.answer;
        if (s.answers && (answer.lines.length !== 1 || answer.lines[0]?.status !== 'accepted')) {
          throw new Error(`B1: input not accepted: ${JSON.stringify(answer.lines)}`);
        }
        if (i >= warmup) {
          t.roundTrips.push(done - sent.writtenAt);
          t.accepted.push(answer.at - sent.writtenAt);
        }
        // Let the tail of the exchange (the lazy delivered and done commits) finish.
        await sleep(PACE_MS);
      });
    }
    await turns.each(0, async (s) => {
      const errors = pairs.get(s.kind)?.central.readErrorLog() ?? '';
      if (errors.trim() !== '') throw new Error(`B1: ${s.name('central')}'s error log is not empty:\n${errors.slice(0, 2000)}`);
    });
  } finally {
    for (const s of stacks) {
      const p = pairs.get(s.kind);
      if (p !== undefined) await s.stop(p.central, p.ship1);
    }
  }
  const result = (k: Kind): B1Result => {
    const t = times.get(k);
    if (t === undefined || t.roundTrips.length < samples) throw new Error(`B1: ${t?.roundTrips.length ?? 0} of ${samples} samples`);
    return summary(t.roundTrips, t.accepted, floor, warmup, samples);
  };
  return { ours: result('ours'), peer: turns.peer(() => result('peer')) };
}

function summary(roundTrips: number[], accepted: number[], floor: B0Result, warmup: number, samples: number): B1Result {
  const floorMs = floor.spawn.p50 + B1_NATS_ROUND_TRIPS * floor.natsRtt.p50 + B1_FSYNCS * floor.fsync.p50;
  const pacedFloorMs = floor.paced.spawn.p50 + B1_NATS_ROUND_TRIPS * floor.paced.natsRtt.p50 + B1_FSYNCS * floor.paced.fsync.p50;
  const roundTrip = roundSummary(summarize(roundTrips));
  return {
    roundTrip,
    accepted: roundSummary(summarize(accepted)),
    floorMs: round(floorMs),
    ratio: round(roundTrip.p50 / floorMs, 2),
    pacedFloorMs: round(pacedFloorMs),
    pacedRatio: round(roundTrip.p50 / pacedFloorMs, 2),
    warmup,
    samples,
    raw: roundTrips.map((v) => round(v, 3)),
    acceptedRaw: accepted.map((v) => round(v, 3)),
  };
}

/** B1 results of the same stack (passes with fresh nodes) as one: the samples of all. */
export function mergeB1(passes: readonly B1Result[], floor: B0Result): B1Result {
  const first = passes[0];
  if (first === undefined) throw new Error('B1: no pass to merge');
  return summary(
    passes.flatMap((p) => p.raw),
    passes.flatMap((p) => p.acceptedRaw),
    floor,
    first.warmup,
    passes.reduce((n, p) => n + p.samples, 0),
  );
}

export function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
