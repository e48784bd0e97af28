import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { sleep, type BenchEnv } from './lib/env.js';
import { roundSummary, summarize, type Summary } from './lib/stats.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

export interface B0Result {
  /** Raw NATS request/reply, responder in another process, 100-byte payload (ms). */
  natsRtt: Summary;
  /** spawn('bash', ['-c', 'echo hi']) until 'close' with the output collected (ms). */
  spawn: Summary;
  /** One 200-byte fs.writeSync + fs.fdatasyncSync, appending to a file in the bench temp folder (ms). */
  fsync: Summary;
  /**
   * The same three, each sample taken after PACE_MS of idle, as B1 paces its samples: on this
   * kind of machine an idle process (and the broker) takes longer to wake than one kept busy by
   * back-to-back samples, and B1's exchange starts from idle every time.
   */
  paced: { natsRtt: Summary; spawn: Summary; fsync: Summary };
  sizes: { natsWarmup: number; nats: number; spawnWarmup: number; spawn: number; fsyncWarmup: number; fsync: number; paced: number };
}

/**
 * Idle before each paced sample, and B1's pause between its samples: longer than the lazy
 * commits' delay (25 ms, src/store/db.ts), so one B1 sample's tail (delivered and done marks,
 * each an fsync when nothing else is going on) does not land inside the next sample.
 */
export const PACE_MS = 60;

export async function runB0(env: BenchEnv, quick: boolean): Promise<B0Result> {
  const sizes = quick
    ? { natsWarmup: 50, nats: 300, spawnWarmup: 5, spawn: 30, fsyncWarmup: 10, fsync: 100, paced: 5 }
    : { natsWarmup: 500, nats: 3000, spawnWarmup: 20, spawn: 200, fsyncWarmup: 50, fsync: 1000, paced: 30 };
  const nats = await natsRoundTrips(env, sizes.natsWarmup, sizes.nats, sizes.paced);
  const spawnMs = await spawns(sizes.spawnWarmup, sizes.spawn);
  const spawnPaced = await spawns(0, sizes.paced, PACE_MS);
  const fsyncMs = await fsyncs(path.join(env.root, 'fsync-floor.dat'), sizes.fsyncWarmup, sizes.fsync);
  const fsyncPaced = await fsyncs(path.join(env.root, 'fsync-floor.dat'), 0, sizes.paced, PACE_MS);
  const sum = (v: number[]): Summary => roundSummary(summarize(v));
  return {
    natsRtt: sum(nats.tight),
    spawn: sum(spawnMs),
    fsync: sum(fsyncMs),
    paced: { natsRtt: sum(nats.paced), spawn: sum(spawnPaced), fsync: sum(fsyncPaced) },
    sizes,
  };
}

async function natsRoundTrips(env: BenchEnv, warmup: number, n: number, paced: number): Promise<{ tight: number[]; paced: number[] }> {
  const nats = await env.nats();
  const subject = 'bench.floor.echo';
  const responder = env.track(
    spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'nats-responder.ts'), nats.url, subject], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the NATS responder did not get ready within 20 s')), 20_000);
    responder.once('error', reject);
    let out = '';
    responder.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
    responder.once('exit', (code) => reject(new Error(`nats responder exited with ${code}`)));
  });
  const nc = await connect({ servers: nats.url });
  const payload = new Uint8Array(100).fill(120);
  const samples: number[] = [];
  const pacedSamples: number[] = [];
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    await nc.request(subject, payload, { timeout: 5000 });
    return performance.now() - t0;
  };
  try {
    for (let i = 0; i < warmup + n; i++) {
      const dt = await once();
      if (i >= warmup) samples.push(dt);
    }
    for (let i = 0; i < paced; i++) {
      await sleep(PACE_MS);
      pacedSamples.push(await once());
    }
  } finally {
    await nc.close();
    responder.stdin?.end();
    await new Promise((r) => (responder.exitCode !== null ? r(undefined) : responder.once('exit', r)));
  }
  return { tight: samples, paced: pacedSamples };
}

function spawnOnce(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('bash', ['-c', 'echo hi'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', () => {
      const dt = performance.now() - t0;
      const text = Buffer.concat(out).toString();
      if (text !== 'hi\n') reject(new Error(`bash -c "echo hi" printed ${JSON.stringify(text)}`));
      else resolve(dt);
    });
  });
}

async function spawns(warmup: number, n: number, pauseMs = 0): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    if (pauseMs > 0) await sleep(pauseMs);
    const dt = await spawnOnce();
    if (i >= warmup) samples.push(dt);
  }
  return samples;
}

async function fsyncs(file: string, warmup: number, n: number, pauseMs = 0): Promise<number[]> {
  const fd = fs.openSync(file, 'a', 0o600);
  const record = Buffer.alloc(200, 'r');
  record[199] = 10;
  const samples: number[] = [];
  try {
    for (let i = 0; i < warmup + n; i++) {
      if (pauseMs > 0) await sleep(pauseMs);
      const t0 = performance.now();
      fs.writeSync(fd, record);
      fs.fdatasyncSync(fd);
      const dt = performance.now() - t0;
      if (i >= warmup) samples.push(dt);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  return samples;
}

/**
 * The spawn-rate floor, run in a bare `node` process of its own (plain JavaScript, no tsx): Node
 * forks in its main thread and a fork costs more the more memory the parent maps, so the floor is
 * taken in the smallest process that can do it, not in the harness. Spawns `n` commands (argv[1]:
 * "echo" = `echo <i>`, "bash" = `bash -c "echo hi"`), at most argv[2] at once, each as
 * REQCliCommand spawns it (own process group, stdout and stderr piped, stdout collected), counted
 * once it has exited and its pipes closed; prints {"perSec","seconds","rssMB"}.
 */
const SPAWN_FLOOR_JS = `
const { spawn } = require('node:child_process');
const [kind, nArg, cArg] = process.argv.slice(1);
const n = Number(nArg), c = Number(cArg);
const args = (i) => (kind === 'bash' ? ['bash', '-c', 'echo hi'] : ['echo', String(i)]);
const one = (i) => new Promise((resolve, reject) => {
  const [cmd, ...rest] = args(i);
  const child = spawn(cmd, rest, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  child.stdout.on('data', (b) => out.push(b));
  child.stderr.resume();
  child.on('error', reject);
  child.on('close', (code) => (code === 0 && out.length > 0 ? resolve() : reject(new Error(cmd + ' exited with ' + code))));
});
let next = 0;
const worker = async () => { while (next < n) await one(next++); };
const t0 = performance.now();
Promise.all(Array.from({ length: Math.min(c, n) }, worker)).then(() => {
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ perSec: Math.round(n / seconds), seconds, rssMB: process.memoryUsage().rss / 1048576 }) + '\\n');
}, (err) => { process.stderr.write(String(err) + '\\n'); process.exit(1); });
`;

/** Spawns per second at a given concurrency, from a bare node process (see SPAWN_FLOOR_JS). */
export function spawnRate(
  kind: 'echo' | 'bash',
  n: number,
  concurrency: number,
): Promise<{ perSec: number; seconds: number; rssMB: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', SPAWN_FLOOR_JS, kind, String(n), String(concurrency)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`the spawn floor process exited with ${code}: ${err}`));
      try {
        const r = JSON.parse(out) as { perSec: number; seconds: number; rssMB: number };
        resolve({ perSec: r.perSec, seconds: Math.round(r.seconds * 1000) / 1000, rssMB: Math.round(r.rssMB * 10) / 10 });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}
