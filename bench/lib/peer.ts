import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { eventually } from '../../test/support/eventually.js';

/**
 * The Go original's node names in a peer-mode run. They share the run's broker with ours under
 * other names, so the two kinds never meet: a node only subscribes to subjects that start with
 * its own name, and the peer's error subject (`errorCentral.REQErrorLog...`) is one ours ignore.
 */
export const PEER_NAMES = { central: 'gcentral', ship1: 'gship1', idle1: 'gidle1' } as const;

export interface PeerOptions {
  /** The steward-go binary (STEWARD_PEER_BIN). */
  bin: string;
  name: string;
  central: string;
  brokerUrl: string;
  /** Folder it runs in (its ./etc, ./tmp, ./var and ./data are made there). */
  dir: string;
  /** Whether it subscribes to the error log (only the central node; README of the peer). */
  errorLog: boolean;
}

/**
 * One node of the Go original (`../shared/peer/steward-go`), run as its README says: in its own
 * folder with `CONFIG_FOLDER=./etc/`, default flags but the names, the broker and
 * `-startSubREQErrorLog` (false on non-central nodes). Its hello stays at its default (every
 * 30 s, the first at start): with `-startPubREQHello=0` it panics a second after start (its
 * ring buffer's metrics read a database bucket that only the first message creates). It has the
 * surface of test/support's StewardProcess that the benchmarks use.
 */
export class PeerProcess {
  private proc: ChildProcess | undefined;
  stderr = '';
  readonly opts: { readonly name: string };
  private startedAtMs = 0;

  constructor(readonly peer: PeerOptions) {
    this.opts = { name: peer.name };
  }

  get dir(): string {
    return this.peer.dir;
  }

  /** Its socket input: `<socketFolder>/steward.sock`, socketFolder ./tmp by default (it also makes an unused stew.sock). */
  get socketPath(): string {
    return path.join(this.dir, 'tmp', 'steward.sock');
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Where the central node writes the hello of `node` (truncated and rewritten at each hello). */
  helloFile(node: string): string {
    return path.join(this.dataDir, 'hello-messages', node, 'hello.log');
  }

  /** Errors of every node land on the node that subscribes to the literal node `errorCentral`. */
  readErrorLog(): string {
    try {
      return fs.readFileSync(path.join(this.dataDir, 'errorLog', 'errorCentral', 'error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /**
   * Starts the process and waits until it is reachable: when `central` (a running peer central,
   * or this node itself) is given, until this node's hello has been written there after the
   * start (its connection and subscriptions are then on the broker: the hello goes out after
   * them on the same connection); otherwise until it logged its process map (a second after
   * its subscribers started).
   */
  async start(central?: PeerProcess): Promise<void> {
    const p = this.peer;
    fs.mkdirSync(p.dir, { recursive: true });
    const logStart = this.stderr.length;
    this.startedAtMs = Date.now();
    const proc = spawn(
      p.bin,
      [`-nodeName=${p.name}`, `-centralNodeName=${p.central}`, `-brokerAddress=${p.brokerUrl}`, `-startSubREQErrorLog=${p.errorLog}`],
      { cwd: p.dir, env: { ...process.env, CONFIG_FOLDER: './etc/' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    // It logs every message it handles: only the tail is kept.
    proc.stderr?.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-20_000)));
    this.proc = proc;
    const hello = central?.helloFile(p.name);
    await eventually(
      () => {
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(`steward-go ${p.name} exited (${proc.exitCode ?? proc.signalCode}): ${this.stderr.slice(-2000)}`);
        if (hello !== undefined) return mtimeMs(hello) >= this.startedAtMs - COARSE_CLOCK_MS && fs.existsSync(this.socketPath);
        return this.stderr.slice(Math.min(logStart, this.stderr.length)).includes('Output of processes map');
      },
      { what: `steward-go ${p.name} to start`, timeoutMs: 20_000, intervalMs: 20 },
    );
  }

  /** SIGTERM, SIGKILL after 5 s; resolves when it has exited. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || !this.running) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  async kill9(): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || !this.running) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }
}

/** File times come from the kernel's coarse clock, up to a tick behind Date.now(). */
const COARSE_CLOCK_MS = 10;

/** A file's mtime in ms, 0 when it does not exist (the hello line's own time has 1 s resolution, the mtime does not). */
function mtimeMs(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
