/**
 * Summarises a V8 CPU profile (from `npm run bench -- --cpu-prof` or `node --cpu-prof`):
 * `npx tsx bench/profile-summary.ts <file.cpuprofile> [--from s] [--to s] [--top n]`.
 * Prints the busy time per second of the profile (to pick a window), then the functions and the
 * files with the most self time, and the functions with the most total (inclusive) time, within
 * the window (seconds from the profile's start; default: all of it).
 */
import fs from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);

function args(argv: string[]): { file: string; from: number; to: number; top: number } {
  const o = { file: '', from: 0, to: Number.POSITIVE_INFINITY, top: 25 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--from') o.from = Number(argv[++i]);
    else if (a === '--to') o.to = Number(argv[++i]);
    else if (a === '--top') o.top = Number(argv[++i]);
    else o.file = a;
  }
  if (o.file === '') {
    process.stderr.write('usage: profile-summary.ts <file.cpuprofile> [--from s] [--to s] [--top n]\n');
    process.exit(2);
  }
  return o;
}

/** A short place name: the package, or the path under the project, and the line. */
function where(cf: CallFrame): string {
  const url = cf.url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  const file = pkg !== null ? `${pkg[1]}:${pkg[2]}` : url.replace(/^.*\/(dist|src|bench)\//, '$1/');
  return file === '' ? '(native)' : `${file}:${cf.lineNumber + 1}`;
}

function main(): void {
  const o = args(process.argv.slice(2));
  const p = JSON.parse(fs.readFileSync(o.file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const perSecond: number[] = [];
  const self = new Map<string, number>();
  const selfFile = new Map<string, number>();
  const total = new Map<string, number>();
  let t = 0;
  let busy = 0;
  let all = 0;
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1000; // ms
    t += dt;
    const s = t / 1000;
    const node = byId.get(id);
    if (node === undefined) return;
    const name = node.callFrame.functionName || '(anonymous)';
    const idle = IDLE.has(name) && name !== '(garbage collector)';
    if (!idle) perSecond[Math.floor(s)] = (perSecond[Math.floor(s)] ?? 0) + dt;
    if (s < o.from || s > o.to) return;
    all += dt;
    if (idle) return;
    busy += dt;
    const key = `${name} ${where(node.callFrame)}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const file = where(node.callFrame).replace(/:\d+$/, '');
    selfFile.set(file, (selfFile.get(file) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (n === undefined) break;
      const k = `${n.callFrame.functionName || '(anonymous)'} ${where(n.callFrame)}`;
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
  });
  const out: string[] = [];
  out.push(
    `${o.file}: ${(t / 1000).toFixed(1)} s profiled; window ${o.from}-${Number.isFinite(o.to) ? o.to : 'end'} s: ${(all / 1000).toFixed(2)} s, busy ${(busy / 1000).toFixed(2)} s`,
  );
  out.push(`busy ms per second: ${perSecond.map((v) => Math.round(v ?? 0)).join(' ')}`);
  const top = (m: Map<string, number>, title: string): void => {
    out.push('', title);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, o.top))
      out.push(`${(v / 1000).toFixed(3).padStart(8)} s ${((100 * v) / Math.max(busy, 1)).toFixed(1).padStart(5)}%  ${k}`);
  };
  top(self, 'self time by function:');
  top(selfFile, 'self time by file / package:');
  top(total, 'total (inclusive) time by function:');
  process.stdout.write(out.join('\n') + '\n');
}

main();
