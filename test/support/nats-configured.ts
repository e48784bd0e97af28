import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually.js';

const NATS_BIN = process.env.NATS_SERVER_BIN ?? (fs.existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');

/** The listeners of a configured nats-server; -1 asks the kernel for a port (first start only). */
export interface NatsPorts {
  client: number;
  http: number;
  cluster: number;
  leaf: number;
}

/** What a config file renders from: the ports (-1 on the first start, the real ones on a restart). */
export type RenderConfig = (ports: NatsPorts) => string;

/**
 * A real nats-server run from a config file (clusters, leaf nodes), on ports the kernel picks.
 * The client, monitoring and cluster ports come back from the ports file; nats-server 2.9 does
 * not write the leafnode port there, so that one is read from its "Listening for leafnode
 * connections" log line. restart() writes the config again with the ports in use, so routes,
 * leaf remotes and clients find the server where it was.
 */
export class ConfiguredNatsServer {
  private proc: ChildProcess | undefined;
  readonly dir: string;
  ports: NatsPorts = { client: -1, http: -1, cluster: -1, leaf: -1 };
  /** The tail of the server's log (stderr). */
  log = '';

  private constructor(
    readonly name: string,
    private readonly render: RenderConfig,
    private readonly listens: { cluster: boolean; leaf: boolean },
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `steward-nats-${name}-`));
  }

  /** Starts `name` from `render`; say which extra listeners the config opens so start() waits for them. */
  static async start(
    name: string,
    render: RenderConfig,
    listens: { cluster?: boolean; leaf?: boolean } = {},
  ): Promise<ConfiguredNatsServer> {
    const s = new ConfiguredNatsServer(name, render, { cluster: listens.cluster ?? false, leaf: listens.leaf ?? false });
    await s.launch();
    return s;
  }

  /** The client URL. */
  get url(): string {
    return `nats://127.0.0.1:${this.ports.client}`;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private async launch(): Promise<void> {
    const conf = path.join(this.dir, 'nats.conf');
    fs.writeFileSync(conf, this.render(this.ports));
    const portsDir = fs.mkdtempSync(path.join(this.dir, 'ports-'));
    const proc = spawn(NATS_BIN, ['-c', conf, '--ports_file_dir', portsDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr?.on('data', (b: Buffer) => {
      log = (log + b.toString()).slice(-20_000);
      this.log = log;
    });
    this.proc = proc;
    const found = await eventually(
      () => {
        if (proc.exitCode !== null) throw new Error(`nats-server ${this.name} exited: ${log.slice(-4000)}`);
        const f = fs.readdirSync(portsDir).find((n) => n.endsWith('.ports'));
        if (f === undefined) return undefined;
        const text = fs.readFileSync(path.join(portsDir, f), 'utf8');
        if (text.trim() === '') return undefined;
        const p = JSON.parse(text) as { nats?: string[]; monitoring?: string[]; cluster?: string[] };
        const leaf = /Listening for leafnode connections on [^\s]+:(\d+)/.exec(log)?.[1];
        if (this.listens.leaf && leaf === undefined) return undefined;
        if (this.listens.cluster && p.cluster === undefined) return undefined;
        return { p, leaf };
      },
      { what: `nats-server ${this.name} ports`, timeoutMs: 10_000 },
    );
    const portOf = (u: string | undefined): number => (u === undefined ? -1 : Number(new URL(u.replace(/^\w+:/, 'http:')).port));
    this.ports = {
      client: portOf(found.p.nats?.[0]),
      http: portOf(found.p.monitoring?.[0]),
      cluster: portOf(found.p.cluster?.[0]),
      leaf: found.leaf === undefined ? -1 : Number(found.leaf),
    };
  }

  /** GETs a monitoring endpoint (the config must open `http`), e.g. `varz`, `connz`, `routez`, `leafz`. */
  async monitor<T = Record<string, unknown>>(endpoint: string): Promise<T> {
    if (this.ports.http < 0) throw new Error(`nats-server ${this.name} has no monitoring port`);
    const r = await fetch(`http://127.0.0.1:${this.ports.http}/${endpoint}`);
    if (!r.ok) throw new Error(`GET /${endpoint} on ${this.name}: HTTP ${r.status}`);
    return (await r.json()) as T;
  }

  /** Names of the client connections on this server (steward connects with its node name). */
  async clientNames(): Promise<string[]> {
    const c = await this.monitor<{ connections?: { name?: string }[] }>('connz?limit=1024');
    return (c.connections ?? []).map((x) => x.name ?? '');
  }

  /** Stops the server (SIGKILL when `hard`, as a crash would). */
  async stop(hard = false): Promise<void> {
    const p = this.proc;
    if (p === undefined || !this.running) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  }

  /** Starts the server again with the same ports. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
