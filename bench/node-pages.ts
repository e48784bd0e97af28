/**
 * Which pages of the node executable a process holds, by section and by what the code or data
 * is (docs/memory.md): `npx tsx bench/node-pages.ts <pid> [<pid of a bare node>]`. With a second
 * pid, only the pages the first process holds and the second does not are counted.
 *
 * Reads /proc/<pid>/maps and the present bit of /proc/<pid>/pagemap (readable for one's own
 * processes), then places each page with `readelf -SW` (sections) and `nm -C -S` (symbols) of
 * the executable. Linux only; needs binutils and an executable that is not stripped.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const PAGE = 4096;

interface Section {
  start: number;
  end: number;
  name: string;
}

interface Symbol {
  start: number;
  end: number;
  name: string;
}

type Mapping = 'main' | 'second';

/**
 * The executable's pages present in the process, as page numbers of the executable's own
 * (link-time) addresses, for its main mapping and for the second one V8 may make of its builtins
 * (short builtin calls), which counts again in the RSS.
 */
function presentPages(pid: number, exe: string, link: { base: number; end: number }): Record<Mapping, Set<number>> {
  const pages: Record<Mapping, Set<number>> = { main: new Set(), second: new Set() };
  const maps = fs
    .readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .map((line) => /^([0-9a-f]+)-([0-9a-f]+) \S+ ([0-9a-f]+) \S+ \S+\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && m[4] === exe)
    .map((m) => ({
      start: Number.parseInt(m[1] as string, 16),
      end: Number.parseInt(m[2] as string, 16),
      offset: Number.parseInt(m[3] as string, 16),
    }));
  // Where file offset 0 is mapped; the executable's own mappings follow it as they were linked.
  const bias = maps.find((m) => m.offset === 0)?.start ?? link.base;
  const fd = fs.openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    for (const m of maps) {
      const own = m.start >= bias && m.start < bias + (link.end - link.base);
      // A second mapping holds file pages: its address in the executable comes from the offset.
      const first = own ? m.start - bias + link.base : link.base + m.offset;
      const n = (m.end - m.start) / PAGE;
      const buf = Buffer.alloc(n * 8);
      fs.readSync(fd, buf, 0, buf.length, (m.start / PAGE) * 8);
      for (let i = 0; i < n; i++) {
        if (buf.readBigUInt64LE(i * 8) >> 63n === 0n) continue;
        (own ? pages.main : pages.second).add(first / PAGE + i);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return pages;
}

/** The executable's link-time addresses: of file offset 0 (0x400000 for node's non-PIE x86-64 build) and past its last segment. */
function linkRange(exe: string): { base: number; end: number } {
  let base: number | undefined;
  let end = 0;
  for (const m of execFileSync('readelf', ['-lW', exe], { encoding: 'utf8' }).matchAll(
    /^\s+LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/gm,
  )) {
    const vaddr = Number.parseInt(m[2] as string, 16);
    base ??= vaddr - Number.parseInt(m[1] as string, 16);
    end = Math.max(end, vaddr + Number.parseInt(m[3] as string, 16));
  }
  return { base: base ?? 0, end };
}

function sections(exe: string): Section[] {
  const out: Section[] = [];
  for (const line of execFileSync('readelf', ['-SW', exe], { encoding: 'utf8' }).split('\n')) {
    const m = /\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)/.exec(line);
    if (m === null) continue;
    const start = Number.parseInt(m[2] as string, 16);
    if (start === 0) continue;
    out.push({ start, end: start + Number.parseInt(m[3] as string, 16), name: m[1] as string });
  }
  return out;
}

function symbols(exe: string): Symbol[] {
  const out: Symbol[] = [];
  const text = execFileSync('nm', ['-C', '-S', '--defined-only', exe], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{16}) ([0-9a-f]{16}) \S (.*)$/.exec(line);
    if (m === null) continue;
    const start = Number.parseInt(m[1] as string, 16);
    const size = Number.parseInt(m[2] as string, 16);
    if (size > 0) out.push({ start, end: start + size, name: m[3] as string });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** What a symbol is, in the groups that matter for memory. */
function group(name: string): string {
  if (name.startsWith('Builtins_')) return 'V8 builtins (embedded)';
  if (name.startsWith('icudt')) return 'ICU data';
  if (name.includes('v8::internal::compiler::') || name.includes('v8::internal::maglev::')) return 'V8 optimizing compiler (TurboFan)';
  if (name.includes('v8::internal::baseline::')) return 'V8 baseline compiler (Sparkplug)';
  if (name.includes('v8::internal::wasm::')) return 'V8 WebAssembly';
  if (name.includes('v8::') || name.includes('cppgc::') || name.startsWith('heap::base')) return 'V8 (other)';
  if (name.includes('icu_')) return 'ICU code';
  if (name.startsWith('node::') || name.includes(' node::')) return 'Node C++';
  if (name.startsWith('uv_') || name.startsWith('uv__')) return 'libuv';
  if (name.startsWith('ares_')) return 'c-ares';
  if (/^(ossl_|OPENSSL|SSL|EVP|BN_|ASN1|X509|CRYPTO|ERR_|EC_|RSA|OBJ_|PEM|BIO|tls|ssl)/.test(name)) return 'OpenSSL';
  return 'other code';
}

/** The symbol covering most of a page (symbols sorted by start). */
function symbolAt(syms: readonly Symbol[], starts: readonly number[], addr: number): Symbol | undefined {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((starts[mid] as number) <= addr + PAGE - 1) lo = mid + 1;
    else hi = mid - 1;
  }
  let best: Symbol | undefined;
  let bestBytes = 0;
  for (let i = hi; i >= 0 && i > hi - 2000; i--) {
    const s = syms[i] as Symbol;
    const bytes = Math.min(s.end, addr + PAGE) - Math.max(s.start, addr);
    if (bytes > bestBytes) {
      best = s;
      bestBytes = bytes;
    }
    if (s.end < addr - 64 * 1024 * 1024) break;
  }
  return best;
}

/** What a page holds, from its section and the symbol covering most of it. */
function contentOf(section: string, sym: Symbol | undefined): string {
  if (section === '.rodata') {
    // Node's own JavaScript library (sources and code cache) is in .rodata without symbols.
    if (sym === undefined) return 'Node JavaScript library (sources, code cache)';
    const g = group(sym.name);
    return g === 'other code' ? 'other read-only data' : g;
  }
  if (section === '.text') return sym === undefined ? 'other code' : group(sym.name);
  if (['.dynsym', '.dynstr', '.gnu.hash', '.gnu.version'].includes(section)) return 'dynamic symbol tables (linking)';
  return section;
}

function main(): void {
  const pid = Number(process.argv[2]);
  const minus = process.argv[3] === undefined ? undefined : Number(process.argv[3]);
  if (!Number.isInteger(pid)) {
    process.stderr.write('usage: npx tsx bench/node-pages.ts <pid> [<pid whose pages are subtracted>]\n');
    process.exit(2);
  }
  const exe = fs.readlinkSync(`/proc/${pid}/exe`);
  const link = linkRange(exe);
  const pages = presentPages(pid, exe, link);
  const other = minus === undefined ? undefined : presentPages(minus, fs.readlinkSync(`/proc/${minus}/exe`), link);
  const secs = sections(exe);
  const syms = symbols(exe);
  const starts = syms.map((s) => s.start);
  const bySection = new Map<string, number>();
  const byGroup = new Map<string, number>();
  let total = 0;
  const count = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
  for (const mapping of ['main', 'second'] as const) {
    for (const page of pages[mapping]) {
      if (other?.[mapping].has(page) === true) continue;
      const addr = page * PAGE;
      total++;
      const sec = secs.find((s) => addr < s.end && addr + PAGE > s.start)?.name ?? '(between sections)';
      const suffix = mapping === 'second' ? ' (second mapping)' : '';
      count(bySection, sec + suffix);
      count(byGroup, contentOf(sec, symbolAt(syms, starts, addr)) + suffix);
    }
  }
  const mb = (n: number): string => ((n * PAGE) / 1048576).toFixed(1).padStart(6);
  const print = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`${title}\n`);
    for (const [k, n] of [...m].sort((a, b) => b[1] - a[1])) if (n * PAGE >= 64 * 1024) process.stdout.write(`${mb(n)} MB  ${k}\n`);
  };
  process.stdout.write(`${exe}: ${mb(total)} MB resident${minus === undefined ? '' : ` that process ${minus} does not hold`}\n\n`);
  print('by section:', bySection);
  process.stdout.write('\n');
  print('by content:', byGroup);
}

main();
