/**
 * Reading a V8 CPU profile (.cpuprofile: `node --cpu-prof`, `npm run bench -- --cpu-prof`, or a
 * node's `GET /debug/cpu`): busy time per second, and self and total time per function and per
 * file, within a window. Used by bench/profile-summary.ts and bench/profile-b1.ts.
 */

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** What a profile holds within a window, in ms. */
export interface ProfileAnalysis {
  /** The whole profile's length (ms). */
  profiledMs: number;
  /** The window's length (ms) and the time the thread was busy in it (not idle, not "(program)"). */
  windowMs: number;
  busyMs: number;
  /** Busy ms in each second of the whole profile (to pick a window). */
  perSecond: number[];
  /** Self time by `function place`, by file or package, and total (inclusive) time by function. */
  self: Map<string, number>;
  selfFile: Map<string, number>;
  total: Map<string, number>;
  /** Busy ms left out because a frame of the sample's stack matched `exclude`. */
  excludedMs: number;
}

/** Samples that are not the thread's own work: waiting for events, and V8's time outside JavaScript. */
const IDLE = new Set(['(idle)', '(program)']);

/** A short place name: the package, or the path under the project, and the line. */
export function where(cf: CallFrame): string {
  const url = cf.url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  const file = pkg !== null ? `${pkg[1]}:${pkg[2]}` : url.replace(/^.*\/(dist|src|bench)\//, '$1/');
  return file === '' ? '(native)' : `${file}:${cf.lineNumber + 1}`;
}

/**
 * Analyses `p` between `fromS` and `toS` seconds from its start (default: all of it). Samples with
 * a frame that `exclude` matches (e.g. the profiler's own start) are counted apart, in excludedMs.
 */
export function analyse(
  p: CpuProfile,
  fromS = 0,
  toS = Number.POSITIVE_INFINITY,
  exclude: (frame: CallFrame) => boolean = () => false,
): ProfileAnalysis {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const a: ProfileAnalysis = {
    profiledMs: 0,
    windowMs: 0,
    busyMs: 0,
    perSecond: [],
    self: new Map(),
    selfFile: new Map(),
    total: new Map(),
    excludedMs: 0,
  };
  const excluded = (id: number): boolean => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (n !== undefined && exclude(n.callFrame)) return true;
    }
    return false;
  };
  const add = (m: Map<string, number>, k: string, v: number): void => void m.set(k, (m.get(k) ?? 0) + v);
  let t = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000; // ms
    t += dt;
    const s = t / 1000;
    const node = byId.get(id);
    if (node === undefined) return;
    const name = node.callFrame.functionName || '(anonymous)';
    const idle = IDLE.has(name);
    if (!idle) a.perSecond[Math.floor(s)] = (a.perSecond[Math.floor(s)] ?? 0) + dt;
    if (s < fromS || s > toS) return;
    a.windowMs += dt;
    if (idle) return;
    if (excluded(id)) {
      a.excludedMs += dt;
      return;
    }
    a.busyMs += dt;
    add(a.self, `${name} ${where(node.callFrame)}`, dt);
    add(a.selfFile, where(node.callFrame).replace(/:\d+$/, ''), dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (n === undefined) break;
      const k = `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame)}`;
      if (seen.has(k)) continue;
      seen.add(k);
      add(a.total, k, dt);
    }
  });
  a.profiledMs = t;
  return a;
}

/** The `n` largest entries of `m` as lines: seconds, share of the busy time, name. */
export function topLines(m: ReadonlyMap<string, number>, busyMs: number, n: number): string[] {
  return [...m]
    .sort((x, y) => y[1] - x[1])
    .slice(0, n)
    .map(([k, v]) => `${(v / 1000).toFixed(3).padStart(8)} s ${((100 * v) / Math.max(busyMs, 1)).toFixed(1).padStart(5)}%  ${k}`);
}
