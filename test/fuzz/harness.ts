import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { eventually } from '../support/eventually.js';
import { STEWARD_BIN } from '../support/steward.js';

/**
 * The daemon to fuzz: `bin/steward` (the built tree), or another build's launcher named by
 * STEWARD_FUZZ_BIN (e.g. a build of the last commit, while src/ is being edited).
 */
const BIN = process.env.STEWARD_FUZZ_BIN ?? STEWARD_BIN;

/** Why the daemon under test may not be the source tree's (src/ newer than dist/), or undefined. */
export function staleBuild(): string | undefined {
  if (process.env.STEWARD_FUZZ_BIN !== undefined) return undefined;
  const root = path.dirname(path.dirname(STEWARD_BIN));
  let built: number;
  try {
    built = fs.statSync(path.join(root, 'dist', 'cli', 'main.js')).mtimeMs;
  } catch {
    return 'dist/ is not built: run npm run build first';
  }
  const newer = fs
    .readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' })
    .find((f) => f.endsWith('.ts') && fs.statSync(path.join(root, 'src', f)).mtimeMs > built);
  return newer === undefined ? undefined : `src/${newer} is newer than dist/: run npm run build first, or this fuzzes the old build`;
}

/** Folders of a node's own, where it may write (the rest of the sandbox must stay as it was). */
export const NODE_FOLDERS = ['etc', 'tmp', 'var', 'data', 'inbox'] as const;

/**
 * A real `bin/steward` with every input on: unix socket, TCP, HTTP and a watched folder. Its
 * logs go to files (a long run logs hundreds of MB, too much to keep in memory).
 */
export class FuzzNode {
  private proc: ChildProcess | undefined;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly logDir: string,
    readonly tcpPort: number,
    readonly httpPort: number,
    private readonly flags: string[],
  ) {}

  get socketPath(): string {
    return path.join(this.dir, 'tmp', 'steward.sock');
  }

  /** The operator token the TCP and HTTP inputs ask for (made at the node's first start). */
  get token(): string {
    return fs.readFileSync(path.join(this.dir, 'etc', 'token'), 'utf8').trim();
  }

  get inbox(): string {
    return path.join(this.dir, 'inbox');
  }

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  get stderrFile(): string {
    return path.join(this.logDir, `${this.name}.stderr`);
  }

  get stdoutFile(): string {
    return path.join(this.logDir, `${this.name}.stdout`);
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== undefined && this.exit === undefined;
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    const out = fs.openSync(this.stdoutFile, 'a');
    const err = fs.openSync(this.stderrFile, 'a');
    const proc = spawn(
      BIN,
      [
        `-nodeName=${this.name}`,
        ...this.flags,
        `-tcpListener=127.0.0.1:${this.tcpPort}`,
        `-httpListener=127.0.0.1:${this.httpPort}`,
        '-readFolder=./inbox',
      ],
      { cwd: this.dir, env: { ...process.env, CONFIG_FOLDER: './etc/' }, stdio: ['ignore', out, err] },
    );
    fs.closeSync(out);
    fs.closeSync(err);
    proc.once('exit', (code, signal) => (this.exit = { code, signal }));
    this.proc = proc;
    await eventually(
      () => {
        if (this.exit !== undefined)
          throw new Error(`steward ${this.name} exited (${JSON.stringify(this.exit)}): ${tail(this.stderrFile)}`);
        return fs.readFileSync(this.stderrFile, 'utf8').includes('"msg":"subscribed"');
      },
      { what: `steward ${this.name} to start`, timeoutMs: 30_000 },
    );
  }

  /** CPU seconds the process has used so far (Linux /proc), or undefined. */
  cpuSeconds(): number | undefined {
    try {
      const fields =
        fs
          .readFileSync(`/proc/${this.pid ?? 0}/stat`, 'utf8')
          .split(') ')[1]
          ?.split(' ') ?? [];
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return undefined;
    }
  }

  /** Stops with SIGTERM; resolves with the time it took, or undefined if it had to be killed. */
  async stop(graceMs = 15_000): Promise<number | undefined> {
    const p = this.proc;
    if (p === undefined || this.exit !== undefined) return 0;
    const t0 = Date.now();
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    return this.exitSignal() === 'SIGKILL' ? undefined : Date.now() - t0;
  }

  private exitSignal(): NodeJS.Signals | null | undefined {
    return this.exit?.signal;
  }
}

export function tail(file: string, bytes = 3000): string {
  try {
    const b = fs.readFileSync(file);
    return b.subarray(Math.max(0, b.length - bytes)).toString('utf8');
  } catch {
    return '';
  }
}

/** Every file and folder under `root` except the allowed subtrees: path -> size and mtime. */
export function snapshot(root: string, allowed: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (allowed.has(p)) continue;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        out.set(p, 'dir');
        walk(p);
      } else out.set(p, `${st.size}:${st.mtimeMs}`);
    }
  };
  walk(root);
  return out;
}

/** What appeared or changed between two snapshots. */
export function diffSnapshots(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [p, v] of after) {
    const was = before.get(p);
    if (was === undefined) out.push(`new: ${p}`);
    else if (was !== v && v !== 'dir') out.push(`changed: ${p}`);
  }
  return out;
}

/** Entries of `dirs` (one level) whose names hold `marker`. */
export function findMarker(dirs: readonly string[], marker: string): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    try {
      for (const n of fs.readdirSync(d)) if (n.includes(marker)) out.push(path.join(d, n));
    } catch {
      // Not there.
    }
  }
  return out;
}

export interface LogScan {
  lines: number;
  /** stderr lines that are not JSON log lines: warnings, stack traces. */
  stray: Map<string, number>;
  /** JSON lines at level error (50) or fatal (60), by message. */
  errors: Map<string, number>;
  fatal: number;
}

/** Reads a node's stderr log and counts what is worth a look. */
export async function scanLog(file: string): Promise<LogScan> {
  const scan: LogScan = { lines: 0, stray: new Map(), errors: new Map(), fatal: 0 };
  if (!fs.existsSync(file)) return scan;
  const rl = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) {
    scan.lines++;
    if (line.trim() === '') continue;
    let v: { level?: unknown; msg?: unknown } | undefined;
    try {
      v = JSON.parse(line) as typeof v;
    } catch {
      v = undefined;
    }
    if (v === undefined || typeof v !== 'object' || v === null || typeof v.level !== 'number') {
      const key = line
        .replace(/\(node:\d+\)/, '(node:PID)')
        .replace(/\d{4,}/g, 'N')
        .slice(0, 160);
      scan.stray.set(key, (scan.stray.get(key) ?? 0) + 1);
      continue;
    }
    if (v.level >= 60) scan.fatal++;
    if (v.level >= 50) {
      const key = (typeof v.msg === 'string' ? v.msg : JSON.stringify(v.msg ?? '')).replace(/\d{4,}/g, 'N').slice(0, 120);
      scan.errors.set(key, (scan.errors.get(key) ?? 0) + 1);
    }
  }
  return scan;
}
