import type { Path } from './cases.js';
import type { LogScan } from './harness.js';

export interface PathStats {
  inputs: number;
  /** Got the answer the path promises. */
  answered: number;
  /** At least one message accepted (folder: the file was removed). */
  accepted: number;
  /** Answered, nothing accepted (folder: moved to failed/ with its .error). */
  rejected: number;
  /** A promised answer that never came, or came malformed. */
  unanswered: number;
  /** No answer promised: the client hung up early, or the input could not be sent. */
  unpromised: number;
  latencies: number[];
  labels: Map<string, number>;
}

export interface Report {
  date: string;
  seed: number;
  count: number;
  done: number;
  concurrency: number;
  seconds: number;
  sendSeconds: number;
  stats: Map<Path, PathStats>;
  canaries: { strict: number; strictOnce: number; missing: string[]; duplicated: string[]; loose: number; looseDelivered: number };
  alive: Record<string, boolean>;
  crashed: string | undefined;
  stopMs: Record<string, number | undefined>;
  outside: number;
  violations: { index: number; path: Path; gen: string; text: string }[];
  notes: Map<string, number>;
  logs: Record<string, LogScan>;
  sandbox: string;
  gens: Map<string, number>;
  /** NATS outcomes by how the input was proven (see proofs.ts). */
  proofs: Map<string, Map<string, number>>;
  /** The command that replays one input. */
  replay: (index: number) => string;
  /** CPU seconds used by each process. */
  cpu: Record<string, number | undefined>;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function sum(m: Map<string, number>): number {
  return [...m.values()].reduce((a, b) => a + b, 0);
}

function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i] ?? 8) : String(c).padStart(widths[i] ?? 8))).join('  ');
}

/** The run's table, on stdout (it is what docs/fuzzing.md quotes). */
export function printReport(r: Report): void {
  const out: string[] = [];
  out.push('');
  out.push(`steward input fuzzer: seed ${r.seed}, ${r.done}/${r.count} inputs, concurrency ${r.concurrency}, ${r.date}`);
  out.push('');
  const w = [8, 7, 9, 9, 9, 10, 11, 7, 7];
  out.push(row(['path', 'inputs', 'answered', 'accepted', 'rejected', 'no answer', 'unpromised', 'p50 ms', 'p99 ms'], w));
  const total = { inputs: 0, answered: 0, accepted: 0, rejected: 0, unanswered: 0, unpromised: 0 };
  for (const [p, s] of r.stats) {
    const sorted = [...s.latencies].sort((a, b) => a - b);
    out.push(
      row(
        [
          p,
          s.inputs,
          s.answered,
          s.accepted,
          s.rejected,
          s.unanswered,
          s.unpromised,
          p === 'folder' ? '-' : pct(sorted, 50),
          p === 'folder' ? '-' : pct(sorted, 99),
        ],
        w,
      ),
    );
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += s[k];
  }
  out.push(row(['total', total.inputs, total.answered, total.accepted, total.rejected, total.unanswered, total.unpromised, '', ''], w));
  out.push('');
  const c = r.canaries;
  out.push(
    `canaries: ${c.strict} that must arrive: ${c.strictOnce} delivered exactly once, ${c.missing.length} missing, ${c.duplicated.length} duplicated; ${c.loose} after broken bytes (at most once): ${c.looseDelivered} delivered`,
  );
  out.push(
    `daemons: ${r.crashed === undefined ? 'no crash' : 'CRASHED'}; alive at the end: ${Object.entries(r.alive)
      .map(([n, a]) => `${n} ${a ? 'yes' : 'NO'}`)
      .join(', ')}; stop after SIGTERM: ${Object.entries(r.stopMs)
      .map(([n, ms]) => `${n} ${ms === undefined ? 'KILLED' : `${ms} ms`}`)
      .join(', ')}`,
  );
  out.push(`writes outside the nodes' folders: ${r.outside}`);
  out.push(
    `time: ${r.seconds.toFixed(1)} s (${r.sendSeconds.toFixed(1)} s sending, ${Math.round(r.done / r.sendSeconds)} inputs/s); CPU seconds: ${Object.entries(
      r.cpu,
    )
      .map(([n, s]) => `${n} ${s === undefined ? '?' : s.toFixed(1)}`)
      .join(', ')}`,
  );
  for (const [n, l] of Object.entries(r.logs)) {
    const errs = [...l.errors]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([m, k]) => `${k}x ${JSON.stringify(m)}`);
    const stray = [...l.stray]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([m, k]) => `${k}x ${JSON.stringify(m)}`);
    out.push(
      `${n} log: ${l.lines} lines, ${l.fatal} fatal; error lines: ${errs.length === 0 ? 'none' : errs.join('; ')}; non-JSON lines: ${stray.length === 0 ? 'none' : stray.join('; ')}`,
    );
  }
  out.push('');
  out.push('answers by path:');
  for (const [p, s] of r.stats)
    out.push(
      `  ${p}: ${[...s.labels]
        .sort((a, b) => b[1] - a[1])
        .map(([l, n]) => `${l} ${n}`)
        .join(', ')}`,
    );
  out.push(
    `inputs by generator: ${[...r.gens]
      .sort()
      .map(([g, n]) => `${g} ${n}`)
      .join(', ')}`,
  );
  out.push(
    `nats inputs by proof: ${[...r.proofs]
      .sort((a, b) => sum(b[1]) - sum(a[1]))
      .map(
        ([p, labels]) =>
          `${p} ${sum(labels)} (${[...labels]
            .sort((a, b) => b[1] - a[1])
            .map(([l, n]) => `${l} ${n}`)
            .join(', ')})`,
      )
      .join('; ')}`,
  );
  if (r.notes.size > 0) {
    out.push('notes (not failures):');
    for (const [n, k] of [...r.notes].sort((a, b) => b[1] - a[1]).slice(0, 15)) out.push(`  ${k}x ${n}`);
  }
  out.push('');
  if (r.violations.length === 0)
    out.push('RESULT: PASS (no crash, every input answered, every canary delivered once, nothing written outside)');
  else {
    out.push(`RESULT: FAIL, ${r.violations.length} violations:`);
    const grouped = new Map<string, { n: number; first: (typeof r.violations)[number] }>();
    for (const v of r.violations) {
      const key = `${v.path}: ${v.text.replace(/\d+/g, 'N').slice(0, 140)}`;
      const g = grouped.get(key);
      if (g === undefined) grouped.set(key, { n: 1, first: v });
      else g.n++;
    }
    for (const { n, first } of [...grouped.values()].slice(0, 30)) {
      out.push(`  ${n}x [input ${first.index}, ${first.path} ${first.gen}] ${first.text.slice(0, 400)}`);
      if (first.index >= 0) out.push(`     replay: ${r.replay(first.index)}`);
    }
  }
  process.stdout.write(out.join('\n') + '\n');
}
