import type { B0Result } from '../b0-floor.js';
import type { B1Result } from '../b1-roundtrip.js';
import type { B3Result } from '../b3-burst.js';
import type { B6Result } from '../b6-idle.js';

/** What one run produced; written as JSON and rendered as the table. */
export interface RunReport {
  date: string;
  command: string;
  quick: boolean;
  ids: string[];
  machine: { nproc: number; cpuModel: string; node: string; natsServer: string; kernel: string };
  /** The code measured: HEAD and the files under src/ that differ from it (dist/ is built from the working tree). */
  code: { commit: string; dirtySrc: string[] };
  /** os.loadavg() at the start and at the end: other load on the machine makes figures noisy. */
  loadavg: { start: number[]; end: number[] };
  wallSeconds: number;
  results: { B0?: B0Result; B1?: B1Result; B3?: B3Result; B6?: B6Result };
  table: Row[];
}

export interface Row {
  id: string;
  measure: string;
  ours: string;
  floor: string;
  go: string;
  target: string;
}

/**
 * The original Go Steward (7004d89) on the same kind of machine, from
 * /work/shared/reference/go-baseline.md. Quoted, not measured here.
 */
const GO = {
  b1p50: '8.2 ms (median)',
  b1p99: 'p90 ~10 ms (no p99 given)',
  b3rate: '~500 msg/s (1000 msgs)',
  cpuNode: '1.8 s (per 1000 CLI round trips; other shape)',
  cpuNats: '0.44 s (per 1000 CLI round trips; other shape)',
  peakRss: '22-28 MB',
  idleRss: '12.7 MB',
};

export const TARGETS = { b1p50Ms: 5, b3MsgPerSec: 5000, idleRssMB: 60 };

const ms = (v: number): string => (v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(1)} ms`);
const mb = (v: number): string => `${v.toFixed(1)} MB`;
const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');

export function buildTable(r: RunReport['results']): Row[] {
  const rows: Row[] = [];
  const b0 = r.B0;
  if (b0 !== undefined) {
    rows.push(
      { id: 'B0', measure: `raw NATS request/reply round trip, responder in another process, p50 of ${b0.natsRtt.n}`, ours: ms(b0.natsRtt.p50), floor: '—', go: '—', target: '—' },
      { id: 'B0', measure: `spawn \`bash -c "echo hi"\`, output collected, p50 of ${b0.spawn.n}`, ours: ms(b0.spawn.p50), floor: '—', go: '—', target: '—' },
      { id: 'B0', measure: `one fsync of a 200-byte record (writeSync + fdatasyncSync), p50 of ${b0.fsync.n}`, ours: ms(b0.fsync.p50), floor: '—', go: '—', target: '—' },
    );
  }
  const b1 = r.B1;
  if (b1 !== undefined) {
    rows.push(
      {
        id: 'B1',
        measure: `round trip REQCliCommand \`bash -c "echo hi"\` central -> ship1, reply REQToFileAppend, socket write -> result file, p50 of ${b1.samples}`,
        ours: ms(b1.roundTrip.p50),
        floor: `floor ${ms(b1.floorMs)}; ratio ${b1.ratio.toFixed(2)}x`,
        go: GO.b1p50,
        target: `<= ${TARGETS.b1p50Ms} ms: ${verdict(b1.roundTrip.p50 <= TARGETS.b1p50Ms)}`,
      },
      { id: 'B1', measure: `round trip, p99 of ${b1.samples}`, ours: ms(b1.roundTrip.p99), floor: `ratio ${(b1.roundTrip.p99 / b1.floorMs).toFixed(2)}x`, go: GO.b1p99, target: '—' },
      { id: 'B1', measure: 'of which: socket write -> input accepted (parsed, outbox committed), p50', ours: ms(b1.accepted.p50), floor: '—', go: '—', target: '—' },
    );
  }
  const b3 = r.B3;
  if (b3 !== undefined) {
    const n = int(b3.messages);
    rows.push(
      {
        id: 'B3',
        measure: `${n} x REQToFileAppend central -> ship1 in one socket write, until all written on ship1 (${b3.seconds.toFixed(2)} s)`,
        ours: `${int(b3.msgPerSec)} msg/s`,
        floor: '—',
        go: GO.b3rate,
        target: `>= ${int(TARGETS.b3MsgPerSec)} msg/s: ${verdict(b3.msgPerSec >= TARGETS.b3MsgPerSec)}`,
      },
      { id: 'B3', measure: 'CPU seconds per 1000 messages, central', ours: `${b3.cpuPer1000.central.toFixed(3)} s`, floor: '—', go: GO.cpuNode, target: '—' },
      { id: 'B3', measure: 'CPU seconds per 1000 messages, ship1', ours: `${b3.cpuPer1000.ship1.toFixed(3)} s`, floor: '—', go: GO.cpuNode, target: '—' },
      { id: 'B3', measure: 'CPU seconds per 1000 messages, nats-server', ours: `${b3.cpuPer1000.natsServer.toFixed(3)} s`, floor: '—', go: GO.cpuNats, target: '—' },
      { id: 'B3', measure: 'peak RSS during the burst (VmRSS every 50 ms), central', ours: mb(b3.peakRssMB.central), floor: '—', go: GO.peakRss, target: '—' },
      { id: 'B3', measure: 'peak RSS during the burst (VmRSS every 50 ms), ship1', ours: mb(b3.peakRssMB.ship1), floor: '—', go: GO.peakRss, target: '—' },
    );
  }
  const b6 = r.B6;
  if (b6 !== undefined) {
    rows.push({
      id: 'B6',
      measure: `RSS of an idle node after ${b6.idleSeconds} s`,
      ours: mb(b6.rssMB),
      floor: `bare node ${mb(b6.bareNodeRssMB)}; ratio ${(b6.rssMB / b6.bareNodeRssMB).toFixed(2)}x`,
      go: GO.idleRss,
      target: `<= ${TARGETS.idleRssMB} MB: ${verdict(b6.rssMB <= TARGETS.idleRssMB)}`,
    });
  }
  return rows;
}

export function markdownTable(rows: readonly Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const out = ['| id | measure | ours | floor / ratio | Go original | target |', '|---|---|---|---|---|---|'];
  for (const r of rows) out.push(`| ${[r.id, r.measure, r.ours, r.floor, r.go, r.target].map(esc).join(' | ')} |`);
  return out.join('\n');
}

export function benchmarksDoc(rep: RunReport, jsonPath: string): string {
  const m = rep.machine;
  const b0 = rep.results.B0;
  const b1 = rep.results.B1;
  const floorLine =
    b0 !== undefined && b1 !== undefined
      ? `In this run: ${ms(b0.spawn.p50)} + 4 x ${ms(b0.natsRtt.p50)} + 6 x ${ms(b0.fsync.p50)} = ${ms(b1.floorMs)}.`
      : '';
  return `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts); do not edit by hand, run it again. Protocol:
BENCH.md (B0-B7); this harness implements ${rep.ids.join(', ')}.

- Date: ${rep.date}
- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpuModel}, Linux ${m.kernel}
- Node ${m.node}, nats-server ${m.natsServer}
- Load average (1, 5, 15 min) at the start: ${rep.loadavg.start.map((v) => v.toFixed(2)).join(', ')}; at the end: ${rep.loadavg.end.map((v) => v.toFixed(2)).join(', ')}
- Code: commit ${rep.code.commit}${rep.code.dirtySrc.length > 0 ? ` plus uncommitted changes in ${rep.code.dirtySrc.join(', ')}` : ''}
- Command: \`${rep.command}\` (wall time ${rep.wallSeconds.toFixed(0)} s)
- Raw figures: \`${jsonPath}\`

${markdownTable(rep.table)}

## How each figure is taken

Every run starts its own nats-server (\`-a 127.0.0.1 -p -1\`, the port read back from its ports
file) and its own steward processes (the real \`bin/steward\`, each in its own temp folder, flags
\`-startPubREQHello=0\`, ships also \`-startSubREQErrorLog=false\`), and talks to them through
their unix socket, as a user would. Server, stewards and harness share the same machine, so the
figures are contention-bound and noisy; comparisons are ratios measured in the same run. Fresh
nodes are started for B1 and for B3.

- **B0 physical floor**: medians, in this run. NATS: sequential \`nc.request\` with a 100-byte
  payload from the harness (@nats-io/transport-node) to a responder in a separate process.
  Spawn: \`child_process.spawn('bash', ['-c', 'echo hi'])\` until \`close\`, stdout collected.
  fsync: one 200-byte \`fs.writeSync\` + \`fs.fdatasyncSync\` appending to a file in the temp folder.
- **B1 round trip**: one message per socket connection
  \`{"toNode":"ship1","method":"REQCliCommand","methodArgs":["bash","-c","echo hi"],"replyMethod":"REQToFileAppend",...}\`
  with a fresh fileName each time; the clock starts just before the write (after connect) and
  stops when central's result file holds \`hi\\n\` (inotify on the folder plus a 1 ms poll).
  Warm-ups are dropped. Floor = spawn + 4 NATS round trips (command and its ACK, reply and its
  ACK) + 6 fsyncs (outbox commit on central, inbox commit on ship1, started commit on ship1,
  reply outbox commit on ship1, inbox commit on central, file fdatasync on central). ${floorLine}
- **B3 message burst**: one JSON array of REQToFileAppend messages, each with a unique line of
  data, in one socket write to central; the clock stops when ship1's result file holds every
  line (checked by size, then by counting newlines; the content is verified line by line after).
  CPU = utime + stime from \`/proc/<pid>/stat\` before the write and at the end, per 1000
  messages; peak RSS = highest \`VmRSS\` from \`/proc/<pid>/status\`, sampled every 50 ms.
- **B6 idle RSS**: a node that is started at the beginning of the run, sends no hello and is
  sent nothing; its \`VmRSS\` read exactly at the end of the idle period (the other benchmarks
  run meanwhile). Floor: a bare \`node -e "setInterval(() => {}, 1000)"\` started beside it,
  read at the same moment.

Go original: the public Go Steward at 7004d89 measured on the same kind of machine
(reference/go-baseline.md); its CPU figures are for 1000 CLI round trips, not the B3 shape.
Targets are the issue's: B1 p50 <= ${TARGETS.b1p50Ms} ms, B3 >= ${int(TARGETS.b3MsgPerSec)} msg/s, idle RSS <= ${TARGETS.idleRssMB} MB.
`;
}
