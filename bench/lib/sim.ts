import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchEnv } from './env.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');

/** The name of simulated node `i` (bench/node-sim.ts names its nodes so; the harness addresses them so). */
export function simNodeName(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(4, '0')}`;
}

interface SimProcess {
  proc: ChildProcess;
  count: number;
  stderr: string;
  ready: Promise<{ nodes: number; startMs: number }>;
}

/**
 * Simulated nodes in `processes` processes of bench/node-sim.ts, `count` nodes in all, named
 * simNodeName(prefix, 0..count-1). Each node is a real StewardNode with its own connection and
 * store; the processes share the machine with the broker and the central node.
 */
export class SimFleet {
  readonly names: string[];
  private readonly procs: SimProcess[] = [];

  private constructor(
    readonly count: number,
    readonly prefix: string,
  ) {
    this.names = Array.from({ length: count }, (_, i) => simNodeName(prefix, i));
  }

  /** Starts the processes at once and waits until every node has subscribed. */
  static async start(
    env: BenchEnv,
    o: {
      count: number;
      perProcess: number;
      central: string;
      label: string;
      helloSeconds: number;
      flags?: string[];
      prefix?: string;
      root?: string;
    },
  ): Promise<{ fleet: SimFleet; startMs: number }> {
    const nats = await env.nats();
    const fleet = new SimFleet(o.count, o.prefix ?? 'n');
    const t0 = performance.now();
    for (let from = 0; from < o.count; from += o.perProcess) {
      const count = Math.min(o.perProcess, o.count - from);
      const args = [
        '--import',
        'tsx',
        path.join(ROOT, 'bench', 'node-sim.ts'),
        ...['--broker', `127.0.0.1:${nats.port}`, '--central', o.central, '--root', path.join(o.root ?? env.root, o.label)],
        ...['--prefix', fleet.prefix, '--from', String(from), '--count', String(count), '--hello', String(o.helloSeconds)],
        '--',
        ...env.extraFlags,
        ...(o.flags ?? []),
      ];
      const proc = env.track(spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }));
      if (proc.pid !== undefined) env.note(proc.pid, `node-sim ${o.label} nodes ${from}..${from + count - 1}`);
      const sp: SimProcess = { proc, count, stderr: '', ready: Promise.resolve({ nodes: 0, startMs: 0 }) };
      proc.stderr?.on('data', (b: Buffer) => (sp.stderr = (sp.stderr + b.toString()).slice(-4000)));
      sp.ready = new Promise((resolve, reject) => {
        let out = '';
        const onData = (b: Buffer): void => {
          out += b.toString();
          const m = /^ready (\{.*\})$/m.exec(out);
          if (m?.[1] !== undefined) {
            proc.stdout?.off('data', onData);
            resolve(JSON.parse(m[1]) as { nodes: number; startMs: number });
          }
        };
        proc.stdout?.on('data', onData);
        proc.once('error', reject);
        proc.once('exit', (code) => reject(new Error(`node-sim (nodes ${from}..${from + count - 1}) exited with ${code}: ${sp.stderr}`)));
      });
      sp.ready.catch(() => {}); // awaited below; a later exit must not crash the run
      fleet.procs.push(sp);
    }
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${o.count} simulated nodes did not start within 120 s`)), 120_000).unref(),
    );
    await Promise.race([Promise.all(fleet.procs.map((p) => p.ready)), timeout]);
    return { fleet, startMs: performance.now() - t0 };
  }

  /** Process ids of the simulator processes. */
  get pids(): number[] {
    return this.procs.map((p) => p.proc.pid).filter((p): p is number => p !== undefined);
  }

  /** A reason when a simulator process is gone. */
  dead(): string | undefined {
    const p = this.procs.find((x) => x.proc.exitCode !== null || x.proc.signalCode !== null);
    return p === undefined ? undefined : `a node-sim process exited: ${p.stderr.slice(-1500)}`;
  }

  /** Stops every node (stdin closed: each node stops cleanly), SIGKILL after 20 s. */
  async stop(): Promise<void> {
    await Promise.all(
      this.procs.map(async ({ proc }) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        const exited = new Promise((r) => proc.once('exit', r));
        proc.stdin?.end();
        const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}
