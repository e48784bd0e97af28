/**
 * Summarises a V8 CPU profile (from `npm run bench -- --cpu-prof`, `node --cpu-prof` or a node's
 * `GET /debug/cpu`): `npx tsx bench/profile-summary.ts <file.cpuprofile> [--from s] [--to s] [--top n]`.
 * Prints the busy time per second of the profile (to pick a window), then the functions and the
 * files with the most self time, and the functions with the most total (inclusive) time, within
 * the window (seconds from the profile's start; default: all of it).
 */
import fs from 'node:fs';
import { analyse, topLines, type CpuProfile } from './lib/cpu-profile.js';

function args(argv: string[]): { file: string; from: number; to: number; top: number } {
  const o = { file: '', from: 0, to: Number.POSITIVE_INFINITY, top: 25 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--from') o.from = Number(argv[++i]);
    else if (a === '--to') o.to = Number(argv[++i]);
    else if (a === '--top') o.top = Number(argv[++i]);
    else o.file = a;
  }
  if (o.file === '' || argv.some((a) => a.startsWith('-') && !['--from', '--to', '--top'].includes(a)) || !Number.isFinite(o.top)) {
    process.stderr.write('usage: profile-summary.ts <file.cpuprofile> [--from s] [--to s] [--top n]\n');
    process.exit(2);
  }
  return o;
}

function main(): void {
  const o = args(process.argv.slice(2));
  const a = analyse(JSON.parse(fs.readFileSync(o.file, 'utf8')) as CpuProfile, o.from, o.to);
  const out: string[] = [];
  out.push(
    `${o.file}: ${(a.profiledMs / 1000).toFixed(1)} s profiled; window ${o.from}-${Number.isFinite(o.to) ? o.to : 'end'} s: ${(a.windowMs / 1000).toFixed(2)} s, busy ${(a.busyMs / 1000).toFixed(2)} s`,
  );
  out.push(`busy ms per second: ${Array.from(a.perSecond, (v) => Math.round(v ?? 0)).join(' ')}`);
  out.push('', 'self time by function:', ...topLines(a.self, a.busyMs, o.top));
  out.push('', 'self time by file / package:', ...topLines(a.selfFile, a.busyMs, o.top));
  out.push('', 'total (inclusive) time by function:', ...topLines(a.total, a.busyMs, o.top));
  process.stdout.write(out.join('\n') + '\n');
}

main();
