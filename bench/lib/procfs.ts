import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Clock ticks per second, for /proc/<pid>/stat utime and stime. */
export const CLK_TCK: number = (() => {
  try {
    const v = Number.parseInt(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim(), 10);
    return Number.isFinite(v) && v > 0 ? v : 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: fields follow the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`);
  return (utime + stime) / CLK_TCK;
}

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM, ...), as MB (MiB). */
export function statusMB(pid: number, field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  if (m === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

export const rssMB = (pid: number): number => statusMB(pid, 'VmRSS');

/** Resident memory of a process by what is mapped (MB); the parts add up to VmRSS. */
export interface RssByMapping {
  /** The node executable's code (V8, its compilers, Node's C++), r-x. */
  nodeCode: number;
  /** The node executable's read-only data (symbol tables, Node's own JavaScript library and its code cache, ICU data). */
  nodeData: number;
  /** Native addons (`*.node`: cbor-extract, ...). */
  nativeModules: number;
  /** Other files: shared libraries (libc, libstdc++, ...). */
  otherFiles: number;
  /** No file behind: the V8 heap, malloc arenas, thread stacks. */
  noFile: number;
}

/**
 * Splits a process's RSS by mapping, from /proc/<pid>/smaps. Pages of a file mapped twice (V8
 * maps part of the node executable a second time, for its builtins) count twice, as in VmRSS.
 */
export function rssByMapping(pid: number): RssByMapping {
  const exe = fs.readlinkSync(`/proc/${pid}/exe`);
  const kB: RssByMapping = { nodeCode: 0, nodeData: 0, nativeModules: 0, otherFiles: 0, noFile: 0 };
  let part: keyof RssByMapping = 'noFile';
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header !== null) {
      const perms = header[1] as string;
      const file = (header[2] as string).replace(/ \(deleted\)$/, '');
      if (file === exe) part = perms.includes('x') ? 'nodeCode' : 'nodeData';
      else if (file.endsWith('.node')) part = 'nativeModules';
      else if (file.startsWith('/')) part = 'otherFiles';
      else part = 'noFile';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss !== null) kB[part] += Number(rss[1]);
  }
  for (const k of Object.keys(kB) as (keyof RssByMapping)[]) kB[k] /= 1024;
  return kB;
}

/** The executable name of a process (to check that bin/steward exec'd into node). */
export function comm(pid: number): string {
  return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

/** Samples the RSS of some processes every `intervalMs` and keeps the peak of each. */
export class RssSampler {
  readonly peakMB = new Map<string, number>();
  samples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pids: ReadonlyMap<string, number>,
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): Map<string, number> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return this.peakMB;
  }

  private sample(): void {
    this.samples++;
    for (const [name, pid] of this.pids) {
      try {
        const v = rssMB(pid);
        this.peakMB.set(name, Math.max(this.peakMB.get(name) ?? 0, v));
      } catch {
        // The process is gone; the error shows up elsewhere.
      }
    }
  }
}

/** Machine description for the report. */
export function machine(natsServerBin: string): { nproc: number; cpuModel: string; node: string; natsServer: string; kernel: string } {
  let nproc: number;
  try {
    nproc = Number.parseInt(execFileSync('nproc', { encoding: 'utf8' }).trim(), 10);
  } catch {
    nproc = 0;
  }
  let cpuModel = 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1] !== undefined) cpuModel = m[1].trim();
  } catch {
    // Not Linux: keep 'unknown'.
  }
  let natsServer = 'unknown';
  try {
    natsServer = execFileSync(natsServerBin, ['--version'], { encoding: 'utf8' })
      .trim()
      .replace(/^nats-server:\s*/, '');
  } catch {
    // Reported as unknown; the run itself fails later if the server cannot start.
  }
  let kernel = 'unknown';
  try {
    kernel = fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // Not Linux.
  }
  return { nproc, cpuModel, node: process.version, natsServer, kernel };
}

/** The machine's CPU time so far from /proc/stat (jiffies): all of it, and what the hypervisor took (steal). */
export function machineCpuTimes(): { total: number; steal: number } | undefined {
  try {
    const f = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    return { total: f.slice(0, 8).reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return undefined; // not Linux
  }
}

/**
 * The share of the machine's CPU time the hypervisor gave to others during the run: on a virtual
 * machine, what most moves the figures from one run to the next.
 */
export function stealShare(a: ReturnType<typeof machineCpuTimes>, b: ReturnType<typeof machineCpuTimes>): number | undefined {
  if (a === undefined || b === undefined || b.total <= a.total) return undefined;
  return Math.round(((b.steal - a.steal) / (b.total - a.total)) * 1000) / 1000;
}
