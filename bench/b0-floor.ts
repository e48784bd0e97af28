import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import type { BenchEnv } from './lib/env.js';
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
  sizes: { natsWarmup: number; nats: number; spawnWarmup: number; spawn: number; fsyncWarmup: number; fsync: number };
}

export async function runB0(env: BenchEnv, quick: boolean): Promise<B0Result> {
  const sizes = quick
    ? { natsWarmup: 50, nats: 300, spawnWarmup: 5, spawn: 30, fsyncWarmup: 10, fsync: 100 }
    : { natsWarmup: 500, nats: 3000, spawnWarmup: 20, spawn: 200, fsyncWarmup: 50, fsync: 1000 };
  const natsRtt = await natsRoundTrips(env, sizes.natsWarmup, sizes.nats);
  const spawnMs = await spawns(sizes.spawnWarmup, sizes.spawn);
  const fsyncMs = fsyncs(path.join(env.root, 'fsync-floor.dat'), sizes.fsyncWarmup, sizes.fsync);
  return { natsRtt: roundSummary(summarize(natsRtt)), spawn: roundSummary(summarize(spawnMs)), fsync: roundSummary(summarize(fsyncMs)), sizes };
}

async function natsRoundTrips(env: BenchEnv, warmup: number, n: number): Promise<number[]> {
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
  try {
    for (let i = 0; i < warmup + n; i++) {
      const t0 = performance.now();
      await nc.request(subject, payload, { timeout: 5000 });
      const dt = performance.now() - t0;
      if (i >= warmup) samples.push(dt);
    }
  } finally {
    await nc.close();
    responder.stdin?.end();
    await new Promise((r) => (responder.exitCode !== null ? r(undefined) : responder.once('exit', r)));
  }
  return samples;
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

async function spawns(warmup: number, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    const dt = await spawnOnce();
    if (i >= warmup) samples.push(dt);
  }
  return samples;
}

function fsyncs(file: string, warmup: number, n: number): number[] {
  const fd = fs.openSync(file, 'a', 0o600);
  const record = Buffer.alloc(200, 'r');
  record[199] = 10;
  const samples: number[] = [];
  try {
    for (let i = 0; i < warmup + n; i++) {
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
