import fs from 'node:fs';
import path from 'node:path';
import type { BenchEnv } from './lib/env.js';
import { anyDead, sendTimed, whenTrue } from './lib/env.js';
import { comm, cpuSeconds, RssSampler } from './lib/procfs.js';
import { round } from './lib/stats.js';

export interface B3Result {
  messages: number;
  /** Socket write -> the last line written in ship1's result file (s). */
  seconds: number;
  msgPerSec: number;
  /** Socket write -> the answer lines (all messages parsed and committed to central's outbox) (s). */
  acceptedSeconds: number;
  /** CPU seconds (user + system) per 1000 messages, during the burst. */
  cpuPer1000: { central: number; ship1: number; natsServer: number };
  /** Peak VmRSS during the burst, sampled every 50 ms (MB). */
  peakRssMB: { central: number; ship1: number; natsServer: number };
  /** Lines in the result file that are not exactly the expected, unique lines (must be 0). */
  badLines: number;
}

export async function runB3(env: BenchEnv, quick: boolean): Promise<B3Result> {
  const n = quick ? 500 : 10_000;
  const nats = await env.nats();
  const [central, ship1] = await Promise.all([
    env.startNode('central', 'b3-central'),
    env.startNode('ship1', 'b3-ship1', ['-startSubREQErrorLog=false']),
  ]);
  await new Promise((r) => setTimeout(r, 500)); // subscriptions reach the broker (see B1)
  try {
    const tag = Date.now().toString(36);
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`b3 ${tag} message ${String(i).padStart(6, '0')}\n`);
    const expectedBytes = lines.reduce((a, l) => a + Buffer.byteLength(l), 0);
    const input = JSON.stringify(
      lines.map((l) => ({ toNode: 'ship1', method: 'REQToFileAppend', data: [l], directory: 'b3', fileName: 'burst.txt' })),
    );
    const resultDir = path.join(ship1.dataDir, 'b3', 'ship1');
    const file = path.join(resultDir, 'burst.txt');
    const pids = new Map<string, number>([
      ['central', central.pid as number],
      ['ship1', ship1.pid as number],
      ['natsServer', nats.pid],
    ]);
    for (const [name, pid] of pids) {
      const c = comm(pid);
      if (name !== 'natsServer' && c !== 'node') throw new Error(`B3: pid ${pid} of ${name} is "${c}", expected the node process`);
    }
    const cpuBefore = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid)]));
    const sampler = new RssSampler(pids, 50);
    sampler.start();
    let finishedAt: number;
    let sent;
    try {
      sent = await sendTimed(central.socketPath, input);
      // Holes from out-of-order planned appends read as NULs, so the size alone is not enough:
      // once it is reached, count the newlines.
      finishedAt = await whenTrue(() => sizeOf(file) >= expectedBytes && countNewlines(file) >= n, {
        watchDir: resultDir,
        timeoutMs: quick ? 45_000 : 600_000,
        what: `${n} lines in ship1's ${file}`,
        pollMs: 5,
        failed: () => anyDead(central, ship1),
      });
    } finally {
      sampler.stop();
    }
    const cpuAfter = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid)]));
    const answer = await sent.answer;
    const acceptedCount = answer.lines.filter((l) => l.status === 'accepted').length;
    if (acceptedCount !== n) throw new Error(`B3: ${acceptedCount} of ${n} messages accepted: ${JSON.stringify(answer.lines.find((l) => l.status !== 'accepted'))}`);
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
    const peak = sampler.peakMB;
    return {
      messages: n,
      seconds: round(seconds, 3),
      msgPerSec: Math.round(n / seconds),
      acceptedSeconds: round((answer.at - sent.writtenAt) / 1000, 3),
      cpuPer1000: { central: per1000('central'), ship1: per1000('ship1'), natsServer: per1000('natsServer') },
      peakRssMB: {
        central: round(peak.get('central') ?? Number.NaN, 1),
        ship1: round(peak.get('ship1') ?? Number.NaN, 1),
        natsServer: round(peak.get('natsServer') ?? Number.NaN, 1),
      },
      badLines,
    };
  } finally {
    await env.stopNodes(central, ship1);
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function countNewlines(file: string): number {
  const b = fs.readFileSync(file);
  let c = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) c++;
  return c;
}
