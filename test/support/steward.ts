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
  readonly dir: string;
  stdout = '';
  stderr = '';

  constructor(readonly opts: NodeOptions) {
    this.dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `steward-${opts.name}-`));
  }

  static async start(opts: NodeOptions): Promise<StewardProcess> {
    const p = new StewardProcess(opts);
    await p.start();
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
    await eventually(
      () => {
        if (proc.exitCode !== null) throw new Error(`steward ${o.name} exited with ${proc.exitCode}: ${this.stderr.slice(-2000)}`);
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

  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    if (p === undefined || !this.running) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(sig);
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

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export function sendToSocket(socketPath: string, input: string | Buffer): Promise<InputLine[]> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socketPath);
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
