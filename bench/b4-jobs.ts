import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { STEWARD_BIN, type StewardProcess } from '../test/support/steward.js';
import { anyDead, sleep } from './lib/env.js';
import { sizeOf } from './lib/files.js';
import type { SimFleet } from './lib/sim.js';
import { round, roundSummary, summarize, type Summary } from './lib/stats.js';

/**
 * Jobs on the B4 fleet (issue 19): the same fan-out as plain messages (one per node) and as a
 * job (toNodes: the job's rows, its end event), in alternation; `steward job <id>` on the
 * 1,000-node job; a rollout of 10 batches against ten plain fan-outs of a tenth each.
 */
export interface B4Jobs {
  n: number;
  /** Plain: n messages with one toNode each; socket write -> the last reply file (ms). */
  plain: Summary;
  /** Job: one message with toNodes; socket write -> the last reply file (ms). */
  jobLastReply: Summary;
  /** Job: socket write -> the job's end event (every row final), what `steward send` waits for (ms). */
  jobEnded: Summary;
  /** `steward job <id> --json` on the n-node job: the socket request alone, and the whole CLI process (ms). */
  viewSocket: Summary;
  viewCli: Summary;
  /** Rollout: `batch` nodes at a time over n, no wait, no failure limit: socket write -> the job's end (ms). */
  batches: number;
  rollout: Summary;
  /** Ten plain fan-outs of n/10 one after the other: the sum of their times to the last reply (ms). */
  tenFanOuts: Summary;
}

export async function runJobRounds(
  central: StewardProcess,
  fleet: SimFleet,
  names: readonly string[],
  rounds: number,
  log: (s: string) => void,
): Promise<B4Jobs> {
  const n = names.length;
  let k = 0;
  const failed = (): string | undefined => anyDead(central) ?? fleet.dead();
  const plain: number[] = [];
  const jobLast: number[] = [];
  const jobEnd: number[] = [];
  let lastJob = '';
  for (let r = 0; r < rounds; r++) {
    const a = `j${k++}.txt`;
    const t0 = performance.now();
    await writeInput(
      central,
      names.map((name) => ({ toNode: name, method: 'REQPing', directory: 'b4j', fileName: a })),
    );
    plain.push((await lastReply(central, names, a, failed)) - t0);
    await sleep(1000);
    const b = `j${k++}.txt`;
    const job = await watchJob(central, { toNodes: names, method: 'REQPing', directory: 'b4j', fileName: b });
    jobLast.push((await lastReply(central, names, b, failed)) - job.writtenAt);
    const ended = await job.ended;
    jobEnd.push(ended - job.writtenAt);
    lastJob = job.id;
    log(
      `B4 jobs: ${n} nodes, round ${r + 1}: plain last reply ${plain.at(-1)?.toFixed(0)} ms; job last reply ${jobLast.at(-1)?.toFixed(0)} ms, ended ${jobEnd.at(-1)?.toFixed(0)} ms`,
    );
    await sleep(1000);
  }
  // `steward job <id>` on the last n-node job: what it costs the daemon, and what the operator waits.
  const viewSocket: number[] = [];
  const viewCli: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    const answer = await ask(central.socketPath, { control: 'job', id: lastJob });
    viewSocket.push(performance.now() - s);
    if ((answer.targets as unknown[] | undefined)?.length !== n)
      throw new Error(`B4 jobs: steward job answered ${JSON.stringify(answer).slice(0, 300)}`);
    const c = performance.now();
    await cliJob(central, lastJob);
    viewCli.push(performance.now() - c);
  }
  // A rollout of 10 batches against ten fan-outs of a tenth, in alternation.
  const batch = Math.max(1, Math.floor(n / 10));
  const rollout: number[] = [];
  const ten: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const f = `j${k++}.txt`;
    const job = await watchJob(central, { toNodes: names, method: 'REQPing', directory: 'b4j', fileName: f, rollout: { batch } });
    rollout.push((await job.ended) - job.writtenAt);
    await lastReply(central, names, f, failed);
    await sleep(1000);
    let sum = 0;
    for (let i = 0; i < n; i += batch) {
      const part = names.slice(i, i + batch);
      const g = `j${k++}.txt`;
      const t0 = performance.now();
      await writeInput(
        central,
        part.map((name) => ({ toNode: name, method: 'REQPing', directory: 'b4j', fileName: g })),
      );
      sum += (await lastReply(central, part, g, failed)) - t0;
    }
    ten.push(sum);
    log(
      `B4 jobs: rollout of ${Math.ceil(n / batch)} batches over ${n}: ended ${rollout.at(-1)?.toFixed(0)} ms; ten fan-outs of ${batch}: ${sum.toFixed(0)} ms`,
    );
    await sleep(1000);
  }
  return {
    n,
    plain: roundSummary(summarize(plain), 1),
    jobLastReply: roundSummary(summarize(jobLast), 1),
    jobEnded: roundSummary(summarize(jobEnd), 1),
    viewSocket: roundSummary(summarize(viewSocket), 1),
    viewCli: roundSummary(summarize(viewCli), 1),
    batches: Math.ceil(n / batch),
    rollout: roundSummary(summarize(rollout), 1),
    tenFanOuts: roundSummary(summarize(ten), 1),
  };
}

/** The job's share of the plain fan-out's time (median to median). */
export function jobRatio(j: B4Jobs): { ended: number; rollout: number } {
  return { ended: round(j.jobEnded.p50 / j.plain.p50, 3), rollout: round(j.rollout.p50 / j.tenFanOuts.p50, 3) };
}

/** Writes messages to the socket and waits for the answer (every message accepted). */
async function writeInput(central: StewardProcess, messages: object[]): Promise<void> {
  const lines = await exchange(central.socketPath, JSON.stringify(messages));
  const bad = lines.find((l) => l.status !== 'accepted');
  if (bad !== undefined || lines.length !== messages.length)
    throw new Error(`B4 jobs: input not accepted: ${JSON.stringify(bad ?? lines.length)}`);
}

/** Waits until every node's reply file exists; returns when (performance.now()). */
async function lastReply(
  central: StewardProcess,
  names: readonly string[],
  fileName: string,
  failed: () => string | undefined,
): Promise<number> {
  const pending = new Set(names);
  const end = performance.now() + 120_000;
  for (;;) {
    for (const name of pending) if (sizeOf(path.join(central.dataDir, 'b4j', name, fileName)) > 0) pending.delete(name);
    const now = performance.now();
    if (pending.size === 0) return now;
    const why = failed();
    if (why !== undefined) throw new Error(`${why} while waiting for ${names.length} replies (${fileName})`);
    if (now > end) throw new Error(`timed out waiting for ${pending.size} of ${names.length} replies (${fileName})`);
    await sleep(10);
  }
}

/** Submits a job through the operator socket with a watch, as `steward send` does. */
async function watchJob(central: StewardProcess, message: object): Promise<{ id: string; writtenAt: number; ended: Promise<number> }> {
  const c = net.connect(central.socketPath);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  let buf = '';
  let id = '';
  let resolveId: (v: string) => void = () => {};
  const gotId = new Promise<string>((r) => (resolveId = r));
  const ended = new Promise<number>((resolve, reject) => {
    c.on('data', (b: Buffer) => {
      buf += b.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
        buf = buf.slice(nl + 1);
        if (line.status === 'error') reject(new Error(`B4 jobs: ${String(line.error)}`));
        if (typeof line.job === 'string' && id === '') resolveId((id = line.job));
        if (line.event === 'job') {
          const at = performance.now();
          c.destroy();
          if (line.state !== 'done')
            reject(new Error(`B4 jobs: the job ended ${String(line.state)}: ${JSON.stringify(line).slice(0, 300)}`));
          resolve(at);
        }
      }
    });
    c.on('error', reject);
  });
  ended.catch(() => {});
  const writtenAt = performance.now();
  c.end(JSON.stringify({ control: 'send', messages: [message], watch: true }));
  return { id: await gotId, writtenAt, ended };
}

async function ask(socket: string, request: object): Promise<Record<string, unknown>> {
  const lines = await exchange(socket, JSON.stringify(request));
  return lines[0] as unknown as Record<string, unknown>;
}

function exchange(socket: string, input: string): Promise<{ status?: string }[]> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    let out = '';
    c.on('data', (b: Buffer) => (out += b.toString()));
    c.on('error', reject);
    c.on('end', () =>
      resolve(
        out
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as { status?: string }),
      ),
    );
    c.end(input);
  });
}

/** `steward job <id> --json` in central's folder, as an operator runs it. */
function cliJob(central: StewardProcess, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(STEWARD_BIN, ['job', id, '--json'], {
      cwd: central.dir,
      env: { ...process.env, CONFIG_FOLDER: './etc/' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = 0;
    p.stdout.on('data', (b: Buffer) => (out += b.length));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 && out > 0 ? resolve() : reject(new Error(`B4 jobs: steward job exited ${String(code)}`))));
  });
}
