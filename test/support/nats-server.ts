import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually.js';

/** nats-server from PATH, or where Debian's package puts it (/usr/sbin is not on every PATH). */
export const NATS_BIN = process.env.NATS_SERVER_BIN ?? (fs.existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');

/** A real nats-server on a port the kernel picks, read back from its ports file. */
export class NatsServer {
  private proc: ChildProcess | undefined;
  port = 0;
  readonly dir: string;

  private constructor(private readonly extraArgs: string[]) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-nats-'));
  }

  static async start(extraArgs: string[] = []): Promise<NatsServer> {
    const s = new NatsServer(extraArgs);
    await s.launch(-1);
    return s;
  }

  /** The server's process id while it runs (benchmarks read its CPU time). */
  get pid(): number {
    const pid = this.proc?.pid;
    if (pid === undefined) throw new Error('nats-server is not running');
    return pid;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  private async launch(port: number): Promise<void> {
    const portsDir = fs.mkdtempSync(path.join(this.dir, 'ports-'));
    const proc = spawn(NATS_BIN, ['-a', '127.0.0.1', '-p', String(port), '--ports_file_dir', portsDir, ...this.extraArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    this.proc = proc;
    const ports = await eventually(
      () => {
        if (proc.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`);
        const f = fs.readdirSync(portsDir).find((n) => n.endsWith('.ports'));
        if (f === undefined) return undefined;
        const text = fs.readFileSync(path.join(portsDir, f), 'utf8');
        return text.trim() === '' ? undefined : (JSON.parse(text) as { nats: string[] });
      },
      { what: 'nats-server ports file', timeoutMs: 10_000 },
    );
    this.port = Number(new URL((ports.nats[0] as string).replace('nats://', 'http://')).port);
  }

  /** Stops the server (SIGKILL when `hard`). */
  async stop(hard = false): Promise<void> {
    const p = this.proc;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  }

  /** Starts the server again on the same port. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch(this.port);
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
