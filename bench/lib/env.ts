import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '../../test/support/eventually.js';
import { NatsServer } from '../../test/support/nats-server.js';
import { StewardProcess, type InputLine } from '../../test/support/steward.js';

export { NATS_BIN as NATS_SERVER_BIN } from '../../test/support/nats-server.js';

/**
 * Everything one benchmark run starts: a temp folder, a nats-server, steward processes (the
 * real bin/steward, each in its own folder under the temp folder), helper processes. close()
 * stops all of them and removes the folder; it is safe to call more than once.
 */
export class BenchEnv {
  readonly root: string;
  private natsProc: NatsServer | undefined;
  private natsStarting: Promise<NatsServer> | undefined;
  private readonly nodes = new Set<StewardProcess>();
  private readonly helpers = new Set<ChildProcess>();
  private readonly cleanups: (() => Promise<void>)[] = [];
  /** Every process started for the run, by pid (to tell CPU profiles apart). */
  readonly processes: { pid: number; what: string }[] = [];
  private closed = false;

  /**
   * `extraFlags` go to every steward node the run starts (the simulated ones too), e.g.
   * `-trust=off` for the comparison of trust on and off in the same run.
   */
  constructor(readonly extraFlags: readonly string[] = []) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-bench-'));
  }

  async nats(): Promise<NatsServer> {
    // One server for the run, also when several nodes ask for it at once.
    this.natsStarting ??= NatsServer.start().then((s) => (this.natsProc = s));
    return this.natsStarting;
  }

  /**
   * Starts a steward node in `<root>/<label>/`, waits until it has subscribed. It connects to
   * the run's nats-server unless `brokerUrl` names another one.
   */
  async startNode(name: string, label: string, flags: string[] = [], brokerUrl?: string, central = 'central'): Promise<StewardProcess> {
    const broker = brokerUrl ?? `127.0.0.1:${(await this.nats()).port}`;
    const dir = path.join(this.root, label);
    fs.mkdirSync(dir, { recursive: true });
    const node = new StewardProcess({
      name,
      central,
      brokerUrl: broker,
      flags: ['-startPubREQHello=0', ...this.extraFlags, ...flags],
      dir,
    });
    this.nodes.add(node);
    await node.start();
    if (node.pid === undefined) throw new Error(`steward ${name} has no pid`);
    this.note(node.pid, `steward ${name} (${label})`);
    return node;
  }

  /** Starts a node again after stopNodes, in the same folder with the same flags; waits until it has subscribed. */
  async restartNode(node: StewardProcess): Promise<void> {
    this.nodes.add(node);
    await node.start();
    if (node.pid !== undefined) this.note(node.pid, `steward ${node.opts.name} (${path.basename(node.dir)}, restarted)`);
  }

  /** Records what a process is, for processes.json of a --cpu-prof run. */
  note(pid: number, what: string): void {
    this.processes.push({ pid, what });
  }

  /** Stops nodes (SIGTERM, SIGKILL after 12 s) and forgets them. */
  async stopNodes(...nodes: StewardProcess[]): Promise<void> {
    await Promise.all(
      nodes.map(async (n) => {
        this.nodes.delete(n);
        const t = setTimeout(() => void n.kill9(), 12_000);
        try {
          await n.stop();
        } finally {
          clearTimeout(t);
        }
      }),
    );
  }

  /** Something else to stop at close() (after the nodes), e.g. a second nats-server. */
  atClose(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  /** A helper process that is killed at close(). */
  track(p: ChildProcess): ChildProcess {
    this.helpers.add(p);
    p.once('exit', () => this.helpers.delete(p));
    return p;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.helpers) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
    await this.stopNodes(...this.nodes).catch(() => {});
    for (const fn of this.cleanups.splice(0)) await fn().catch(() => {});
    const nats = this.natsProc ?? (await this.natsStarting?.catch(() => undefined));
    await nats?.close().catch(() => {});
    // STEWARD_BENCH_KEEP=1 keeps the nodes' folders (logs, stores, result files) to look into.
    if (process.env.STEWARD_BENCH_KEEP === '1') process.stderr.write(`[bench] kept ${this.root}\n`);
    else fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** One input written to a node's socket: when the write happened, and the answer. */
export interface Sent {
  /** performance.now() just before the bytes were handed to the socket. */
  writtenAt: number;
  /** Resolves with the answer lines and when they were complete. */
  answer: Promise<{ lines: InputLine[]; at: number }>;
  /** Once the answer is in: the first line that is not "accepted" (for `whenTrue`'s `failed`). */
  refused(): string | undefined;
}

/** Connects to the socket first, then writes `input` in one write (and half-closes). */
export async function sendTimed(socketPath: string, input: string | Buffer): Promise<Sent> {
  const c = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  let out = '';
  const answer = new Promise<{ lines: InputLine[]; at: number }>((resolve, reject) => {
    c.on('data', (b: Buffer) => (out += b.toString()));
    c.on('error', reject);
    c.on('end', () => {
      const at = performance.now();
      try {
        resolve({
          lines: out
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => JSON.parse(l) as InputLine),
          at,
        });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
  answer.catch(() => {}); // a caller that gave up waiting must not crash the run later
  let refused: string | undefined;
  answer.then(
    (a) => {
      const bad = a.lines.find((l) => l.status !== 'accepted');
      if (bad !== undefined) refused = `the input was not all accepted: ${JSON.stringify(bad)}`;
    },
    () => {},
  );
  const writtenAt = performance.now();
  c.end(input);
  return { writtenAt, answer, refused: () => refused };
}

/**
 * Resolves with performance.now() at the first moment `check()` is true. Checked on every
 * inotify event of `watchDir` (when it exists) and by a poll every `pollMs` in case an event is
 * missed. Rejects at once when `failed()` returns a reason (e.g. a node died), or after `timeoutMs`.
 */
export function whenTrue(
  check: () => boolean,
  o: { watchDir: string; timeoutMs: number; what: string; pollMs?: number; failed?: () => string | undefined },
): Promise<number> {
  return new Promise((resolve, reject) => {
    let watcher: fs.FSWatcher | undefined;
    let finished = false;
    const finish = (err?: Error): void => {
      if (finished) return;
      finished = true;
      const at = performance.now();
      watcher?.close();
      clearInterval(poll);
      clearTimeout(timer);
      if (err === undefined) resolve(at);
      else reject(err);
    };
    const tick = (): void => {
      if (finished) return;
      let ok: boolean;
      try {
        ok = check();
      } catch {
        ok = false; // e.g. the file is not there yet
      }
      if (ok) return finish();
      const reason = o.failed?.();
      if (reason !== undefined) finish(new Error(`${reason} while waiting for ${o.what}`));
    };
    try {
      watcher = fs.watch(o.watchDir, tick);
      watcher.on('error', () => {});
    } catch {
      watcher = undefined; // the folder does not exist yet: the poll covers it
    }
    const poll = setInterval(tick, o.pollMs ?? 1);
    const timer = setTimeout(() => finish(new Error(`timed out after ${o.timeoutMs} ms waiting for ${o.what}`)), o.timeoutMs);
    tick();
  });
}

/** A reason when one of the nodes (ours or the peer's) is no longer running. */
export function anyDead(
  ...nodes: { readonly opts: { readonly name: string }; readonly running: boolean; readonly stderr: string }[]
): string | undefined {
  const dead = nodes.find((n) => !n.running);
  return dead === undefined ? undefined : `${dead.opts.name} exited: ${dead.stderr.slice(-1500)}`;
}

/**
 * A reason when a central's error log has lines: a message refused or given up will never arrive
 * (e.g. the peer's "malformed json" or "max retries reached"), so a wait for it can stop at once.
 */
export function errorLogged(central: { readonly opts: { readonly name: string }; readErrorLog(): string }): string | undefined {
  const text = central.readErrorLog();
  return text.trim() === '' ? undefined : `${central.opts.name}'s error log: ${text.slice(0, 1500)}`;
}

export { sleep };
