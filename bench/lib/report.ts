import fs from 'node:fs';
import { PACE_MS, type B0Result } from '../b0-floor.js';
import { B1_FSYNCS, type B1Result } from '../b1-roundtrip.js';
import type { B2Result } from '../b2-cmd-burst.js';
import type { B3Result } from '../b3-burst.js';
import type { B4Result } from '../b4-fanout.js';
import { jobRatio } from '../b4-jobs.js';
import type { B5Result } from '../b5-backlog.js';
import type { B6Result } from '../b6-idle.js';
import type { RssByMapping } from './procfs.js';
import type { B7Result } from '../b7-wire.js';

/** What one run produced; written as JSON and rendered as the table. */
export interface RunReport {
  date: string;
  command: string;
  quick: boolean;
  ids: string[];
  machine: { nproc: number; cpuModel: string; node: string; natsServer: string; kernel: string };
  /** The code measured: HEAD and the files under src/ that differ from it (dist/ is built from the working tree). */
  code: { commit: string; dirtySrc: string[] };
  /** os.loadavg() at the start and at the end, and the 1-minute figure every 5 s during the run. */
  loadavg: { start: number[]; end: number[]; during?: { min: number; median: number; max: number } | undefined };
  /** CPU time taken by the hypervisor for others during the run (steal in /proc/stat), as a share of the machine's; absent in older runs. */
  stealShare?: number | undefined;
  wallSeconds: number;
  results: {
    B0?: B0Result;
    B1?: B1Result;
    B2?: B2Result;
    B3?: B3Result;
    B4?: B4Result;
    B5?: B5Result;
    B6?: B6Result;
    B7?: B7Result;
    /** The same with every node at -trust=off (`--trust-compare`). */
    trustOff?: { B1?: B1Result; B3?: B3Result; B4?: B4Result };
  };
  table: Row[];
  /** The issue's targets, each judged on this run's figures (not judged in quick mode: other sizes). */
  targets: TargetRow[];
}

export interface Row {
  id: string;
  measure: string;
  ours: string;
  floor: string;
  go: string;
  target: string;
}

export interface TargetRow {
  id: string;
  target: string;
  measured: string;
  /** undefined: not judged (quick mode, or the benchmark did not run). */
  met: boolean | undefined;
}

/**
 * The original Go Steward (7004d89) on the same kind of machine, from
 * /work/shared/reference/go-baseline.md. Quoted, not measured here.
 */
const GO = {
  b1p50: '8.2 ms (median)',
  b1p99: 'p90 ~10 ms (no p99 given)',
  b2rate: '~245 msg/s (median 4.1 s of 7 runs, 2.9-10.3 s)',
  b2order: 'out of order',
  b2cpuNode: '1.8 s (per 1000 CLI round trips)',
  b2cpuNats: '0.44 s (per 1000 CLI round trips)',
  b3rate: '~500 msg/s (1000 msgs, 2.0 s)',
  b5: 'lost once retries x ACKTimeout are spent (no figure)',
  peakRss: '22-28 MB',
  idleRss: '12.7 MB',
};

/** The issue's targets (issue 6). */
export const TARGETS = {
  b1p50Ms: 5,
  b1FloorRatio: 1.3,
  /** B2 msg/s as a share of the spawn rate at the executor's concurrency. */
  b2SpawnShare: 0.8,
  b3MsgPerSec: 10_000,
  b4Nodes: 1000,
  b4LastReplyMs: 2000,
  /** Issue 19: a job's end, and a rollout of 10 batches, at most this times the plain fan-outs. */
  b4JobRatio: 1.1,
  b4JobViewMs: 200,
  /** Issue 16: what the proofs and the policy may cost. */
  trustB1Ms: 0.3,
  trustShare: 0.9,
  b5Messages: 10_000,
  b5DrainSeconds: 5,
  idleRssMB: 50,
  /** B7: -compression=z at least this much below JSON uncompressed. */
  b7ZReduction: 0.4,
};

const ms = (v: number): string => (v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(1)} ms`);
const sec = (v: number): string => `${v.toFixed(2)} s`;
const mb = (v: number): string => `${v.toFixed(1)} MB`;
const int = (v: number): string => Math.round(v).toLocaleString('en-US');
const pct = (v: number): string => `${Math.round(v * 100)}%`;
const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'not judged (quick)' : ok ? 'met' : '**missed**');

export function buildTable(r: RunReport['results'], quick: boolean): { table: Row[]; targets: TargetRow[] } {
  const rows: Row[] = [];
  const targets: TargetRow[] = [];
  /** A target judged here; in quick mode the sizes differ from the issue's, so nothing is judged. */
  const judge = (id: string, target: string, measured: string, ok: boolean): string => {
    const met = quick ? undefined : ok;
    targets.push({ id, target, measured, met });
    return `${target}: ${verdict(met)}`;
  };
  const b0 = r.B0;
  if (b0 !== undefined) {
    rows.push(
      {
        id: 'B0',
        measure: `raw NATS request/reply round trip, responder in another process, p50 of ${b0.natsRtt.n}`,
        ours: ms(b0.natsRtt.p50),
        floor: '—',
        go: '—',
        target: '—',
      },
      {
        id: 'B0',
        measure: `spawn \`bash -c "echo hi"\`, output collected, p50 of ${b0.spawn.n}`,
        ours: ms(b0.spawn.p50),
        floor: '—',
        go: '—',
        target: '—',
      },
      {
        id: 'B0',
        measure: `one fsync of a 200-byte record (writeSync + fdatasyncSync), p50 of ${b0.fsync.n}`,
        ours: ms(b0.fsync.p50),
        floor: '—',
        go: '—',
        target: '—',
      },
      {
        id: 'B0',
        measure: `the same three, each after ${PACE_MS} ms idle as B1 paces its samples (NATS / spawn / fsync), p50 of ${b0.paced.natsRtt.n}`,
        ours: `${ms(b0.paced.natsRtt.p50)} / ${ms(b0.paced.spawn.p50)} / ${ms(b0.paced.fsync.p50)}`,
        floor: '—',
        go: '—',
        target: '—',
      },
    );
  }
  const b1 = r.B1;
  if (b1 !== undefined) {
    const p50 = judge('B1', `p50 <= ${TARGETS.b1p50Ms} ms`, ms(b1.roundTrip.p50), b1.roundTrip.p50 <= TARGETS.b1p50Ms);
    const ratio = judge(
      'B1',
      `p50 <= ${TARGETS.b1FloorRatio}x the floor`,
      `${b1.ratio.toFixed(2)}x of ${ms(b1.floorMs)}`,
      b1.ratio <= TARGETS.b1FloorRatio,
    );
    rows.push(
      {
        id: 'B1',
        measure: `round trip REQCliCommand \`bash -c "echo hi"\` central -> ship1, reply REQToFileAppend, socket write -> result file, p50 of ${b1.samples}`,
        ours: ms(b1.roundTrip.p50),
        floor: `floor ${ms(b1.floorMs)}; ratio ${b1.ratio.toFixed(2)}x`,
        go: GO.b1p50,
        target: `${p50}; ${ratio}`,
      },
      {
        id: 'B1',
        measure: `round trip, p99 of ${b1.samples}`,
        ours: ms(b1.roundTrip.p99),
        floor: `ratio ${(b1.roundTrip.p99 / b1.floorMs).toFixed(2)}x`,
        go: GO.b1p99,
        target: '—',
      },
      {
        id: 'B1',
        measure: 'of which: socket write -> input accepted (parsed, outbox committed), p50',
        ours: ms(b1.accepted.p50),
        floor: '—',
        go: '—',
        target: '—',
      },
      {
        id: 'B1',
        measure: `round trip p50 against the floor of parts each taken after ${PACE_MS} ms idle (B0 paced), for comparison only`,
        ours: ms(b1.roundTrip.p50),
        floor: `paced floor ${ms(b1.pacedFloorMs)}; ratio ${b1.pacedRatio.toFixed(2)}x`,
        go: '—',
        target: '—',
      },
    );
  }
  const b2 = r.B2;
  if (b2 !== undefined) {
    const n = int(b2.messages);
    const f = b2.spawnFloor;
    const mid = b2.rounds.find((x) => x.msgPerSec === b2.msgPerSec) ?? b2.rounds[0];
    const share = judge(
      'B2',
      `>= ${pct(TARGETS.b2SpawnShare)} of the spawn rate at ${f.concurrency} at once`,
      `${pct(b2.ratio)} (${int(b2.msgPerSec)} of ${int(f.echoPerSec)}/s)`,
      b2.ratio >= TARGETS.b2SpawnShare,
    );
    const inOrder = b2.rounds.filter((x) => x.inOrder).length;
    const worst = [...b2.rounds].sort((a, b) => b.displaced - a.displaced)[0];
    const orderText =
      worst === undefined || b2.inOrder
        ? `in order in ${inOrder} of ${b2.rounds.length} rounds`
        : `in order in ${inOrder} of ${b2.rounds.length} rounds; worst: ${int(worst.displaced)} of ${n} lines out of place (descents: ${int(worst.descents)})`;
    const order = judge('B2', 'replies in order', orderText, b2.inOrder);
    rows.push(
      {
        id: 'B2',
        measure: `${n} x REQCliCommand \`echo N\` central -> ship1 in one socket write, until all ${n} replies are in central's result file, median of ${b2.rounds.length} (${sec(b2.seconds)})`,
        ours: `${int(b2.msgPerSec)} msg/s`,
        floor: `spawn floor \`echo N\` ${f.concurrency} at once ${int(f.echoPerSec)}/s (bare node, ${mb(f.rssMB)}); ratio ${b2.ratio.toFixed(2)}`,
        go: GO.b2rate,
        target: share,
      },
      {
        id: 'B2',
        measure: 'replies in order in the result file (one subject: ship1 -> central REQToFileAppend)',
        ours: b2.inOrder ? 'yes' : `no: ${orderText}`,
        floor: '—',
        go: GO.b2order,
        target: order,
      },
      {
        id: 'B2',
        measure:
          'the same, first burst after the nodes start (not counted: it also compiles the code and starts the parser thread and the spawn helper)',
        ours: `${int(b2.warmup.msgPerSec)} msg/s`,
        floor: `ratio ${(b2.warmup.msgPerSec / f.echoPerSec).toFixed(2)}`,
        go: '—',
        target: '—',
      },
      {
        id: 'B2',
        measure: `spawn floor at ${f.concurrency} at once, bare node: \`bash -c "echo hi"\` (B0's command)`,
        ours: `${int(f.bashPerSec)}/s`,
        floor: '—',
        go: '—',
        target: '—',
      },
      {
        id: 'B2',
        measure: 'peak RSS during the bursts, ship1 (the process that forks the commands) / central',
        ours: `${mb(b2.peakRssMB.ship1)} / ${mb(b2.peakRssMB.central)}`,
        floor: `floor process ${mb(f.rssMB)}`,
        go: GO.peakRss,
        target: '—',
      },
    );
    if (mid !== undefined) {
      rows.push(
        {
          id: 'B2',
          measure: 'CPU seconds per 1000 commands, central',
          ours: `${mid.cpuPer1000.central.toFixed(3)} s`,
          floor: '—',
          go: GO.b2cpuNode,
          target: '—',
        },
        {
          id: 'B2',
          measure: 'CPU seconds per 1000 commands, ship1 (not counting the commands)',
          ours: `${mid.cpuPer1000.ship1.toFixed(3)} s`,
          floor: '—',
          go: `${GO.b2cpuNode}, excl. bash`,
          target: '—',
        },
        {
          id: 'B2',
          measure: "CPU seconds per 1000 commands, ship1's spawn helper (the process that forks the commands while 4 or more run)",
          ours: `${(mid.cpuPer1000.spawnHelper ?? 0).toFixed(3)} s`,
          floor: '—',
          go: '—',
          target: '—',
        },
        {
          id: 'B2',
          measure: 'CPU seconds per 1000 commands, nats-server',
          ours: `${mid.cpuPer1000.natsServer.toFixed(3)} s`,
          floor: '—',
          go: GO.b2cpuNats,
          target: '—',
        },
      );
    }
  }
  const b3 = r.B3;
  if (b3 !== undefined) {
    const n = int(b3.messages);
    const rate = judge('B3', `>= ${int(TARGETS.b3MsgPerSec)} msg/s`, `${int(b3.msgPerSec)} msg/s`, b3.msgPerSec >= TARGETS.b3MsgPerSec);
    rows.push(
      {
        id: 'B3',
        measure: `${n} x REQToFileAppend central -> ship1 in one socket write, until all written on ship1, median of ${b3.rounds.length} (${sec(b3.seconds)})`,
        ours: `${int(b3.msgPerSec)} msg/s`,
        floor: '—',
        go: GO.b3rate,
        target: rate,
      },
      {
        id: 'B3',
        measure: 'the same, first burst after the nodes start (not counted: it also compiles the code)',
        ours: `${int(b3.warmup.msgPerSec)} msg/s`,
        floor: '—',
        go: '—',
        target: '—',
      },
      {
        id: 'B3',
        measure: 'CPU seconds per 1000 messages, central',
        ours: `${b3.cpuPer1000.central.toFixed(3)} s`,
        floor: '—',
        go: '—',
        target: '—',
      },
      {
        id: 'B3',
        measure: 'CPU seconds per 1000 messages, ship1',
        ours: `${b3.cpuPer1000.ship1.toFixed(3)} s`,
        floor: '—',
        go: '—',
        target: '—',
      },
      {
        id: 'B3',
        measure: 'CPU seconds per 1000 messages, nats-server',
        ours: `${b3.cpuPer1000.natsServer.toFixed(3)} s`,
        floor: '—',
        go: '—',
        target: '—',
      },
      {
        id: 'B3',
        measure: 'peak RSS during the bursts (VmRSS every 50 ms), central',
        ours: mb(b3.peakRssMB.central),
        floor: '—',
        go: GO.peakRss,
        target: '—',
      },
      {
        id: 'B3',
        measure: 'peak RSS during the bursts (VmRSS every 50 ms), ship1',
        ours: mb(b3.peakRssMB.ship1),
        floor: '—',
        go: GO.peakRss,
        target: '—',
      },
    );
  }
  const b4 = r.B4;
  if (b4 !== undefined) {
    for (const s of b4.sizes) {
      const mid = [...s.rounds].sort((a, b) => a.lastMs - b.lastMs)[Math.floor(s.rounds.length / 2)];
      // Judged on the 1000-node fan-out (quick mode has only a small one: listed, not judged).
      const largest = s === b4.sizes[b4.sizes.length - 1];
      const judged =
        s.n === TARGETS.b4Nodes || (quick && largest)
          ? judge(
              'B4',
              `last reply <= ${TARGETS.b4LastReplyMs / 1000} s for ${int(TARGETS.b4Nodes)} nodes`,
              `${ms(s.last.p50)} for ${int(s.n)} nodes`,
              s.last.p50 <= TARGETS.b4LastReplyMs,
            )
          : '—';
      rows.push(
        {
          id: 'B4',
          measure: `fan-out: one REQPing via toNodes to ${int(s.n)} nodes (of ${int(b4.fleet)} running), socket write -> the last reply file on central, median of ${s.rounds.length}`,
          ours: ms(s.last.p50),
          floor: mid === undefined ? '—' : `first reply ${ms(mid.firstMs)}, half ${ms(mid.p50Ms)}; accepted ${ms(mid.acceptedMs)}`,
          go: '—',
          target: judged,
        },
        {
          id: 'B4',
          measure: `fan-out to ${int(s.n)} nodes: replies per second (n / time to the last)`,
          ours: `${int(s.repliesPerSec)}/s`,
          floor:
            mid === undefined
              ? '—'
              : `CPU seconds in the round: central ${mid.cpu.central.toFixed(2)}, simulators ${mid.cpu.sims.toFixed(2)}, nats-server ${mid.cpu.natsServer.toFixed(2)}`,
          go: '—',
          target: '—',
        },
      );
    }
    const j = b4.jobs;
    if (j !== undefined) {
      const ratio = jobRatio(j);
      rows.push(
        {
          id: 'B4',
          measure: `job: one REQPing via toNodes to ${int(j.n)} nodes as a job, socket write -> the job's end (every row final, what steward send waits for), median of ${j.jobEnded.n}, alternating with the same fan-out as ${int(j.n)} plain messages`,
          ours: ms(j.jobEnded.p50),
          floor: `plain fan-out ${ms(j.plain.p50)} to the last reply; ratio ${ratio.ended.toFixed(2)}x (job's last reply ${ms(j.jobLastReply.p50)})`,
          go: '—',
          target: judge(
            'B4',
            `job's end <= ${TARGETS.b4JobRatio}x the plain fan-out`,
            `${ratio.ended.toFixed(2)}x`,
            ratio.ended <= TARGETS.b4JobRatio,
          ),
        },
        {
          id: 'B4',
          measure: `steward job <id> --json on the ${int(j.n)}-node job, the whole CLI process, median of ${j.viewCli.n}`,
          ours: ms(j.viewCli.p50),
          floor: `the socket request alone ${ms(j.viewSocket.p50)}`,
          go: '—',
          target: judge(
            'B4',
            `steward job < ${TARGETS.b4JobViewMs} ms for ${int(j.n)} nodes`,
            ms(j.viewCli.p50),
            j.viewCli.p50 < TARGETS.b4JobViewMs,
          ),
        },
        {
          id: 'B4',
          measure: `rollout: ${j.batches} batches of ${int(Math.ceil(j.n / j.batches))} over ${int(j.n)} nodes (no wait, no failure limit), socket write -> the job's end, median of ${j.rollout.n}`,
          ours: ms(j.rollout.p50),
          floor: `ten plain fan-outs of ${int(Math.ceil(j.n / j.batches))} one after the other ${ms(j.tenFanOuts.p50)}; ratio ${ratio.rollout.toFixed(2)}x`,
          go: '—',
          target: judge(
            'B4',
            `rollout <= ${TARGETS.b4JobRatio}x ten fan-outs`,
            `${ratio.rollout.toFixed(2)}x`,
            ratio.rollout <= TARGETS.b4JobRatio,
          ),
        },
      );
    }
    rows.push({
      id: 'B4',
      measure: `${int(b4.fleet)} simulated nodes (each a real StewardNode: own NATS connection, store, subscribers; stores on ${b4.simStorage}) in ${b4.processes} processes, hello every ${b4.helloSeconds} s; all subscribed after`,
      ours: sec(b4.fleetStartSeconds),
      floor: `RSS ${mb(b4.simRssPerNodeMB)} per simulated node; central peak ${mb(b4.peakRssMB.central)}`,
      go: '—',
      target: '—',
    });
  }
  const b5 = r.B5;
  if (b5 !== undefined) {
    const n = int(b5.messages);
    const subscribed = b5.rounds.map((x) => x.subscribedSeconds).sort((a, b) => a - b)[Math.floor(b5.rounds.length / 2)] ?? Number.NaN;
    const drain = judge(
      'B5',
      `drained <= ${TARGETS.b5DrainSeconds} s (${int(TARGETS.b5Messages)} messages)`,
      `${sec(b5.seconds)} for ${n}`,
      b5.messages === TARGETS.b5Messages && b5.seconds <= TARGETS.b5DrainSeconds,
    );
    rows.push(
      {
        id: 'B5',
        measure: `offline backlog: ${n} x REQToFileAppend (retries -1) queued on central for stopped ship1; ship1 started -> all written on ship1, median of ${b5.rounds.length}`,
        ours: sec(b5.seconds),
        floor: `of which ship1 start -> subscribed ${sec(subscribed)}; ${int(b5.msgPerSec)} msg/s`,
        go: GO.b5,
        target: drain,
      },
      {
        id: 'B5',
        measure: `sender (central) RSS holding the backlog, ${b5.holdSeconds} s after it was accepted, median`,
        ours: mb(b5.holdRssMB),
        floor: `before it was queued ${mb(b5.idleRssMB)}`,
        go: '—',
        target: '—',
      },
      {
        id: 'B5',
        measure: 'peak RSS while the backlog drains, central / ship1 (max of the rounds)',
        ours: `${mb(Math.max(...b5.rounds.map((x) => x.drainPeakRssMB.central)))} / ${mb(Math.max(...b5.rounds.map((x) => x.drainPeakRssMB.ship1)))}`,
        floor: '—',
        go: GO.peakRss,
        target: '—',
      },
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
      target: judge('B6', `idle RSS <= ${TARGETS.idleRssMB} MB`, mb(b6.rssMB), b6.rssMB <= TARGETS.idleRssMB),
    });
    if (b6.anonMB !== undefined) {
      rows.push({
        id: 'B6',
        measure:
          'of which private (RssAnon: heap, stacks, malloc) / file pages (RssFile: node binary, native modules; shared, reclaimable)',
        ours: `${mb(b6.anonMB)} / ${mb(b6.fileMB)}`,
        floor: `bare node ${mb(b6.bareAnonMB)} / ${mb(b6.bareFileMB)}`,
        go: '—',
        target: '—',
      });
    }
    if (b6.mappings !== undefined && b6.bareMappings !== undefined) {
      const split = (m: RssByMapping): string =>
        `${mb(m.nodeCode)} / ${mb(m.nodeData)} / ${mb(m.nativeModules)} / ${mb(m.otherFiles)} / ${mb(m.noFile)}`;
      rows.push({
        id: 'B6',
        measure:
          'by mapping: node executable code / node executable data / native addons / other files (shared libraries) / no file (V8 heap, malloc, stacks)',
        ours: split(b6.mappings),
        floor: `bare node ${split(b6.bareMappings)}`,
        go: '—',
        target: '—',
      });
    }
  }
  const off = r.trustOff;
  if (off !== undefined) {
    if (off.B1 !== undefined && r.B1 !== undefined) {
      const extra = r.B1.roundTrip.p50 - off.B1.roundTrip.p50;
      rows.push({
        id: 'B1',
        measure: 'round trip p50 with trust off (every node -trust=off, same run, after the trust-on rounds)',
        ours: ms(off.B1.roundTrip.p50),
        floor: `trust on ${ms(r.B1.roundTrip.p50)}: ${extra >= 0 ? '+' : ''}${ms(extra)}`,
        go: '—',
        target: judge('B1', `trust costs <= +${TARGETS.trustB1Ms} ms`, `${extra >= 0 ? '+' : ''}${ms(extra)}`, extra <= TARGETS.trustB1Ms),
      });
    }
    if (off.B3 !== undefined && r.B3 !== undefined) {
      const share = r.B3.msgPerSec / off.B3.msgPerSec;
      rows.push({
        id: 'B3',
        measure: 'the burst with trust off (every node -trust=off, same run)',
        ours: `${int(off.B3.msgPerSec)} msg/s`,
        floor: `trust on ${int(r.B3.msgPerSec)} msg/s: ${pct(share)} of it`,
        go: '—',
        target: judge('B3', `trust on >= ${pct(TARGETS.trustShare)} of trust off`, pct(share), share >= TARGETS.trustShare),
      });
    }
    const onLast = r.B4?.sizes.at(-1);
    const offLast = off.B4?.sizes.at(-1);
    if (onLast !== undefined && offLast !== undefined) {
      // A time: trust on at 90% of the speed means at most 1/0.9 of the time.
      const share = offLast.last.p50 / onLast.last.p50;
      rows.push({
        id: 'B4',
        measure: `fan-out to ${int(offLast.n)} nodes with trust off (every node -trust=off, same run), last reply`,
        ours: ms(offLast.last.p50),
        floor: `trust on ${ms(onLast.last.p50)}: trust on runs at ${pct(share)} of its speed`,
        go: '—',
        target: judge('B4', `trust on >= ${pct(TARGETS.trustShare)} of trust off's speed`, pct(share), share >= TARGETS.trustShare),
      });
    }
  }
  const b7 = r.B7;
  if (b7 !== undefined) {
    for (const s of b7.settings) {
      const total = s.inBytes + s.outBytes;
      const below = 1 - s.ratioToJson;
      rows.push({
        id: 'B7',
        measure: `bytes through the broker per B1 exchange (${s.inMsgs} messages in, ${s.outMsgs} out), \`-serialization=${s.serialization} -compression=${s.compression}\`, nats-server /varz, median of ${b7.samples}`,
        ours: `${int(total)} B (in ${int(s.inBytes)}, out ${int(s.outBytes)})`,
        floor:
          s.serialization === 'json' && s.compression === ''
            ? 'the reference'
            : `${s.ratioToJson.toFixed(2)}x JSON uncompressed (${below >= 0 ? `${pct(below)} less` : `${pct(-below)} more`})`,
        go: '—',
        target:
          s.compression === 'z'
            ? judge(
                'B7',
                `${s.serialization}, z: >= ${pct(TARGETS.b7ZReduction)} below JSON uncompressed`,
                `${pct(below)} below`,
                below >= TARGETS.b7ZReduction,
              )
            : '—',
      });
    }
  }
  return { table: rows, targets };
}

export function markdownTable(rows: readonly Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const out = ['| id | measure | ours | floor / ratio | Go original | target |', '|---|---|---|---|---|---|'];
  for (const r of rows) out.push(`| ${[r.id, r.measure, r.ours, r.floor, r.go, r.target].map(esc).join(' | ')} |`);
  return out.join('\n');
}

export function targetsTable(rows: readonly TargetRow[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const out = ['| id | target (issue 6) | this run | verdict |', '|---|---|---|---|'];
  for (const r of rows) out.push(`| ${[r.id, r.target, r.measured, verdict(r.met)].map(esc).join(' | ')} |`);
  return out.join('\n');
}

export function benchmarksDoc(rep: RunReport, jsonPath: string): string {
  const m = rep.machine;
  const b0 = rep.results.B0;
  const b1 = rep.results.B1;
  const floorLine =
    b0 !== undefined && b1 !== undefined
      ? `In this run: ${ms(b0.spawn.p50)} + 4 x ${ms(b0.natsRtt.p50)} + ${B1_FSYNCS} x ${ms(b0.fsync.p50)} = ${ms(b1.floorMs)}; ` +
        `with the parts taken after ${PACE_MS} ms idle (B0 paced): ${ms(b0.paced.spawn.p50)} + 4 x ${ms(b0.paced.natsRtt.p50)} + ${B1_FSYNCS} x ${ms(b0.paced.fsync.p50)} = ${ms(b1.pacedFloorMs)}.`
      : '';
  return `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts); do not edit by hand, run it again. Protocol:
BENCH.md (B0-B7); this run: ${rep.ids.join(', ')}.

- Date: ${rep.date}
- Machine: ${m.nproc} CPUs (\`nproc\`), ${m.cpuModel}, Linux ${m.kernel}
- Node ${m.node}, nats-server ${m.natsServer}
- Load average (1, 5, 15 min) at the start: ${rep.loadavg.start.map((v) => v.toFixed(2)).join(', ')}; at the end: ${rep.loadavg.end.map((v) => v.toFixed(2)).join(', ')}${
    rep.loadavg.during === undefined
      ? ''
      : `; 1-minute load every 5 s during the run: median ${rep.loadavg.during.median.toFixed(2)} (${rep.loadavg.during.min.toFixed(2)}-${rep.loadavg.during.max.toFixed(2)})`
  }
- CPU steal (time the hypervisor gave the vCPUs to others) during the run: ${
    rep.stealShare === undefined ? 'not known' : `${(rep.stealShare * 100).toFixed(1)}% of the machine's CPU time`
  }
- Code: commit ${rep.code.commit}${rep.code.dirtySrc.length > 0 ? ` plus uncommitted changes in ${rep.code.dirtySrc.join(', ')}` : ''}
- Command: \`${rep.command}\` (wall time ${rep.wallSeconds.toFixed(0)} s)
- Raw figures: \`${jsonPath}\`

## Targets

${targetsTable(rep.targets)}

## Figures

${markdownTable(rep.table)}

## How each figure is taken

Every run starts its own nats-server (\`-a 127.0.0.1 -p -1\`, the port read back from its ports
file) and its own steward processes (the real \`bin/steward\`, each in its own temp folder, flags
\`-startPubREQHello=0\`, ships also \`-startSubREQErrorLog=false\`), and talks to them through
their unix socket, as a user would. Server, stewards and harness share the same machine, so the
figures are contention-bound and noisy; comparisons are ratios measured in the same run. Fresh
nodes are started for each benchmark; where a benchmark is repeated, the rounds run one after the
other on the same nodes, each into a new result file, and the median is reported.

- **B0 physical floor**: medians, in this run. NATS: sequential \`nc.request\` with a 100-byte
  payload from the harness (@nats-io/transport-node) to a responder in a separate process.
  Spawn: \`child_process.spawn('bash', ['-c', 'echo hi'])\` until \`close\`, stdout collected.
  fsync: one 200-byte \`fs.writeSync\` + \`fs.fdatasyncSync\` appending to a file in the temp folder.
  The three are taken back to back (the target's floor), and again with ${PACE_MS} ms of idle before
  each (30 samples each, "paced"), as B1's samples come: on this virtual machine a process, the
  broker or the disk that has been idle takes longer to answer than one kept busy (a NATS round
  trip after 60 ms idle takes about 1 ms against 0.2-0.3 ms back to back). B1's ratio to the paced
  floor is given for comparison only.
- **B1 round trip**: one message per socket connection
  \`{"toNode":"ship1","method":"REQCliCommand","methodArgs":["bash","-c","echo hi"],"replyMethod":"REQToFileAppend",...}\`
  with a fresh fileName each time; the clock starts just before the write (after connect) and
  stops when central's result file holds \`hi\\n\` (inotify on the folder plus a 1 ms poll).
  Warm-ups are dropped; 60 ms between samples, so the lazy commits of one (25 ms) do not fall
  into the next. Floor = spawn + 4 NATS round trips (command and its ACK, reply and its ACK) +
  ${B1_FSYNCS} fsyncs (receipt on ship1, committed as started; receipt of the reply on central;
  file fdatasync on central; counted with strace: the two outbox commits, of the command on
  central and of the reply on ship1, are synced while the message is already on its way, and the
  delivered and done marks add about 4 more per exchange, all off the path). ${floorLine}
- **B2 command burst**: one JSON array of REQCliCommand \`["echo","N"]\` (N = 0..n-1), reply
  REQToFileAppend to one result file, in one socket write to central; a first burst after the
  nodes start is a warm-up, reported on its own and not counted (it also pays for compiling the
  code and starting the parser thread and the spawn helper); the clock stops when
  central's result file holds n lines (size, then newlines); then every line is checked to be
  there once, and the order is read: "out of place" counts lines where line i is not \`i\`,
  "descents" counts lines smaller than the one before. The floor is measured just before each
  round in a bare \`node\` process of its own (plain JavaScript, not the harness: Node forks in
  its main thread, and a fork costs more the more memory the parent maps): n/2 spawns of
  \`echo N\`, as REQCliCommand spawns them (own process group, stdout and stderr piped, stdout
  collected, counted when closed), at most 64 at once (the node's executor limit); the ratio is
  B2 msg/s over that spawn rate (medians). The same for \`bash -c "echo hi"\` is given for
  reference. CPU per 1000 commands from \`/proc/<pid>/stat\`
  of the median round (ship1's figure does not include the commands, which are its children;
  ship1's spawn helper, the child process that forks the commands while 4 or more run, is
  given on a line of its own).
- **B3 message burst**: one JSON array of REQToFileAppend messages, each with a unique line of
  data, in one socket write to central; a first burst after the nodes start is a warm-up,
  reported on its own and not counted; the clock stops when ship1's result file holds every
  line (checked by size, then by counting newlines; the content is verified line by line after).
  CPU = utime + stime from \`/proc/<pid>/stat\` before the write and at the end, per 1000
  messages (median of the rounds); peak RSS = highest \`VmRSS\` from \`/proc/<pid>/status\`,
  sampled every 50 ms during the rounds.
- **B4 fan-out**: a real central (\`bin/steward\`) and a fleet of simulated nodes started by
  \`bench/node-sim.ts\`: each simulated node is a real \`StewardNode\` (the class bin/steward runs,
  loaded from dist/) with its configuration resolved by \`loadConfig\`, its own SQLite store and
  data folder, its own NATS connection and subscribers; only the unix socket and operator inputs
  are left out. 250 nodes per simulator process (4 processes for 1000). Their stores and data
  folders are on tmpfs (/dev/shm) when there is one: on real machines each node syncs its own disk
  in parallel with the others, while here a thousand nodes would queue their fsyncs (about four
  per ping) on one disk and in four event loops; central's store stays on disk. They send hellos at the
  default interval (30 s: about 33 a second to central with 1000 nodes, a realistic background);
  the clock only starts after central has the first hello of every node and the start-up burst
  has settled. One message \`{"toNodes":[...n names],"method":"REQPing","directory":"b4",...}\`
  is written to central's socket; central expands it into n messages, each node writes its
  ping.log and replies; the clock stops when central holds every node's reply file (polled every
  10 ms, so arrival times are known to 10 ms). n = 100 and 1000 nodes of the same running fleet.
- **B5 offline backlog**: ship1 runs once, is stopped; n REQToFileAppend messages with
  \`retries: -1\` (each a unique line) are written to central's socket for it and held for a
  moment (central keeps retrying each in-flight message every ACKTimeout, getting "no
  responders"); central's \`VmRSS\` is read at the end of the hold. Then ship1 is started (its
  hello at start tells central it is back) and the clock runs from spawning ship1 until its
  result file holds every line. ship1's start-up time (process start to "subscribed" in its
  log) is part of the figure and given beside it.
- **B6 idle RSS**: a node that is started at the beginning of the run, sends no hello and is
  sent nothing; its \`VmRSS\` read exactly at the end of the idle period (the other benchmarks
  run meanwhile). Floor: a bare \`node -e "setInterval(() => {}, 1000)"\` started beside it,
  read at the same moment. The figure is split into \`RssAnon\` (memory the node alone holds) and
  \`RssFile\` (pages of the node binary and native modules that running JavaScript touches:
  shared with other node processes, and given back by the kernel under memory pressure), and by
  mapping (\`/proc/<pid>/smaps\`): the node executable's code and its read-only data, native
  addons, other files, and memory with no file behind. Most of the gap to the Go figure is file
  pages: a bare node already holds about 33 MB of them. What an idle node holds beyond a bare one,
  page by page, and what would move it: [memory.md](memory.md).
- **B7 bytes on the wire**: a nats-server of its own with monitoring (\`http:\` in its config,
  as \`-m\` gives), so nothing else is counted; for each \`-serialization\` (cbor, json) and
  \`-compression\` ("", g, z) a fresh central and ship1 with those flags (hello off) run the B1
  exchange; \`/varz\` \`in_bytes\` and \`out_bytes\` (headers and payloads as the server counts
  them; protocol lines not included) are read before and after each exchange; warm-ups are
  dropped. An exchange is 4 messages each way: the command, its ACK, the reply, its ACK. TCP
  bytes including the protocol lines are in docs/wire.md (\`bench/wire-size.ts\`).

Go original: the public Go Steward at 7004d89 measured on the same kind of machine
(reference/go-baseline.md); its CPU figures are for 1000 CLI round trips (the B2 shape).
Targets are the issue's: B1 p50 <= ${TARGETS.b1p50Ms} ms and <= ${TARGETS.b1FloorRatio}x the floor; B2 >= ${pct(TARGETS.b2SpawnShare)} of
the spawn rate at the same concurrency, replies in order; B3 >= ${int(TARGETS.b3MsgPerSec)} msg/s; B4 last reply
<= ${TARGETS.b4LastReplyMs / 1000} s for ${int(TARGETS.b4Nodes)} nodes; B5 drained <= ${TARGETS.b5DrainSeconds} s; B6 idle RSS <= ${TARGETS.idleRssMB} MB; B7 z at least
${pct(TARGETS.b7ZReduction)} below JSON uncompressed.
${history()}`;
}

/** Comparisons across versions, kept by hand in bench/history.md and carried into every render. */
function history(): string {
  try {
    return `\n${fs.readFileSync(new URL('../history.md', import.meta.url), 'utf8')}`;
  } catch {
    return '';
  }
}
