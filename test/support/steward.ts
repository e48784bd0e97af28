import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const STEWARD_BIN = path.join(ROOT, 'bin', 'steward');

export interface NodeOptions {
  name: string;
  central: string;
  brokerUrl: string;
  /** Extra flags, e.g. ['-startPubREQHello=0']. */
  flags?: string[];
  /** Folder to run in (default: a new temp folder). */
  dir?: string;
  /** policy.toml text, written into its config folder before each start. */
  policy?: string;
}

/** One answer line from a steward input. */
export interface InputLine {
  status: 'accepted' | 'error';
  index: number;
  id?: string;
  toNode?: string;
  subject?: string;
  error?: string;
}

/** A real `bin/steward` process in its own folder, as a user would run it. */
export class StewardProcess {
  private proc: ChildProcess | undefined;
  /** The signal this harness sent the current process, if any (its exit is expected). */
  private sent: NodeJS.Signals | undefined;
  /** The current process's early exit was already thrown by start(). */
  private exitReported = false;
  readonly dir: string;
  stdout = '';
  stderr = '';

  constructor(readonly opts: NodeOptions) {
    this.dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `steward-${opts.name}-`));
  }

  /** Starts a node; should it not come up, its process is killed (nothing is left behind to hold the test). */
  static async start(opts: NodeOptions): Promise<StewardProcess> {
    const p = new StewardProcess(opts);
    try {
      await p.start();
    } catch (err) {
      await p.kill9();
      throw err;
    }
    return p;
  }

  get socketPath(): string {
    return path.join(this.dir, 'tmp', 'steward.sock');
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  get errorLog(): string {
    return path.join(this.dataDir, 'errorLog', this.opts.central, 'error.log');
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** How the last process ended (undefined while it runs or before the first start). */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined {
    const p = this.proc;
    if (p === undefined || (p.exitCode === null && p.signalCode === null)) return undefined;
    return { code: p.exitCode, signal: p.signalCode };
  }

  /** Starts the process and waits until it has subscribed on the broker. */
  async start({ waitConnected = true }: { waitConnected?: boolean } = {}): Promise<void> {
    const o = this.opts;
    const logStart = this.stderr.length;
    if (o.policy !== undefined) {
      fs.mkdirSync(path.join(this.dir, 'etc'), { recursive: true });
      fs.writeFileSync(path.join(this.dir, 'etc', 'policy.toml'), o.policy);
    }
    const proc = spawn(
      STEWARD_BIN,
      [
        `-nodeName=${o.name}`,
        `-centralNodeName=${o.central}`,
        `-brokerAddress=${o.brokerUrl}`,
        '-natsConnectRetryInterval=1',
        ...(o.flags ?? []),
      ],
      { cwd: this.dir, env: { ...process.env, CONFIG_FOLDER: './etc/' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc.stdout?.on('data', (b: Buffer) => (this.stdout += b.toString()));
    proc.stderr?.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.proc = proc;
    this.sent = undefined;
    this.exitReported = false;
    await eventually(
      () => {
        if (proc.exitCode !== null) {
          this.exitReported = true;
          throw new Error(`steward ${o.name} exited with ${proc.exitCode}: ${this.stderr.slice(-2000)}`);
        }
        const log = this.stderr.slice(logStart);
        return waitConnected ? log.includes('"msg":"subscribed"') : log.includes('socket input listening');
      },
      { what: `steward ${o.name} to start`, timeoutMs: 20_000 },
    );
  }

  /** Writes `input` to the node's socket and returns the answer lines. */
  send(input: string | Buffer): Promise<InputLine[]> {
    return sendToSocket(this.socketPath, input);
  }

  /**
   * Stops the node as an operator would (SIGTERM) and waits for it to exit. Throws, with the
   * node's last stderr lines, unless it exited with code 0: a daemon that does not stop cleanly
   * fails the test that stopped it. Also throws when the node had already died on its own (no
   * signal from here, an exit start() did not report), so a crash between two steps is not missed.
   */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p === undefined) return;
    if (this.running) {
      this.sent = 'SIGTERM';
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    } else if (this.sent !== undefined || this.exitReported) return; // killed from here, or reported by start()
    const e = this.exit;
    if (e !== undefined && e.code === 0) return;
    this.exitReported = true;
    const how = e === undefined ? 'no exit seen' : e.signal !== null ? `killed by ${e.signal}` : `exit code ${e.code}`;
    const what = this.sent === 'SIGTERM' ? 'did not stop cleanly on SIGTERM' : 'had died on its own before stop()';
    throw new Error(`steward ${this.opts.name} ${what} (${how}); its stderr ends:\n${lastLines(this.stderr, 15)}`);
  }

  /** Kills the node with SIGKILL (a crash) and waits for it to exit. */
  async kill9(): Promise<void> {
    const p = this.proc;
    if (p === undefined || !this.running) return;
    this.sent = 'SIGKILL';
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  /** Reads a file under the node's data folder ('' when it does not exist). */
  readData(...parts: string[]): string {
    try {
      return fs.readFileSync(path.join(this.dataDir, ...parts), 'utf8');
    } catch {
      return '';
    }
  }

  readErrorLog(): string {
    try {
      return fs.readFileSync(this.errorLog, 'utf8');
    } catch {
      return '';
    }
  }

  /** The first line of this node's error log that contains `text`, once there is one (30 s at most). */
  errorLogLine(text: string, what = `"${text}" in ${this.opts.name}'s error log`): Promise<string> {
    return eventually(
      () =>
        this.readErrorLog()
          .split('\n')
          .find((l) => l.includes(text)),
      { what, timeoutMs: 30_000 },
    );
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The last `n` lines of `text`. */
function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

export function sendToSocket(socketPath: string, input: string | Buffer): Promise<InputLine[]> {
  return answerLines(net.connect(socketPath), input);
}

/** Writes `input` to a node's TCP listener on 127.0.0.1 (a token line first, unless -inputAuth=none), half-closes, and returns the answer lines. */
export function sendToTcp(port: number, input: string | Buffer): Promise<InputLine[]> {
  return answerLines(net.connect(port, '127.0.0.1'), input);
}

/** Writes `input` to a connection to an input, half-closes it, and parses the answer: a JSON line per message. */
function answerLines(c: net.Socket, input: string | Buffer): Promise<InputLine[]> {
  return new Promise((resolve, reject) => {
    let out = '';
    c.setEncoding('utf8'); // decodes characters split across chunks
    c.on('data', (s: string) => (out += s));
    c.on('error', reject);
    c.on('end', () => {
      resolve(
        out
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as InputLine),
      );
    });
    c.end(input);
  });
}

/** A message object with the seed's field names. */
export function cmd(toNode: string, args: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { toNode, method: 'REQCliCommand', methodArgs: args, directory: 'results', fileName: 'out.txt', ...extra };
}
