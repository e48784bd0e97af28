import { PACE_MS, type B0Result } from '../b0-floor.js';
import type { B1Result } from '../b1-roundtrip.js';
import type { B2Result, B2Round } from '../b2-cmd-burst.js';
import type { B3Result } from '../b3-burst.js';
import { GO, goCell, int, mb, ms, pct, sec, TARGETS, vs, type Ctx } from './report-base.js';
import type { PeerFailure } from './stack.js';

/** B0: the physical floor, in this run. */
export function rowsB0(c: Ctx, b0: B0Result): void {
  const { rows } = c;
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

/** Issue 18's B1 target, judged only when the peer ran in this run. */
function peerRatio(c: Ctx, b1: B1Result, peer: B1Result | PeerFailure | undefined): string {
  if (peer === undefined || 'failed' in peer) return '';
  const r = b1.roundTrip.p50 / peer.roundTrip.p50;
  return `; ${c.judge('B1', `p50 <= ${TARGETS.b1PeerRatio}x the Go original's (issue 18)`, `${r.toFixed(2)}x of ${ms(peer.roundTrip.p50)}`, r <= TARGETS.b1PeerRatio)}`;
}

/** B1: the round trip, against the floor (and the peer of this run in peer mode). */
export function rowsB1(c: Ctx, b1: B1Result, peer: B1Result | PeerFailure | undefined): void {
  const { rows, judge } = c;
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
      go: goCell(peer, GO.b1p50, (p) => `${ms(p.roundTrip.p50)}; ${vs(b1.roundTrip.p50, p.roundTrip.p50)}`, true),
      target: `${p50}; ${ratio}${peerRatio(c, b1, peer)}`,
    },
    {
      id: 'B1',
      measure: `round trip, p99 of ${b1.samples}`,
      ours: ms(b1.roundTrip.p99),
      floor: `ratio ${(b1.roundTrip.p99 / b1.floorMs).toFixed(2)}x`,
      go: goCell(peer, GO.b1p99, (p) => `${ms(p.roundTrip.p99)}; ${vs(b1.roundTrip.p99, p.roundTrip.p99)}`),
      target: '—',
    },
    {
      id: 'B1',
      measure: 'of which: socket write -> input accepted (parsed, outbox committed), p50',
      ours: ms(b1.accepted.p50),
      floor: '—',
      go: goCell(peer, '—', () => 'no answer (its input answers nothing)'),
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

/** B2: the command burst. */
export function rowsB2(c: Ctx, b2: B2Result, peer: B2Result | PeerFailure | undefined): void {
  const { rows, judge } = c;
  const n = int(b2.messages);
  const f = b2.spawnFloor;
  const mid = b2.rounds.find((x) => x.msgPerSec === b2.msgPerSec) ?? b2.rounds[0];
  const share = judge(
    'B2',
    `>= ${pct(TARGETS.b2SpawnShare)} of the spawn rate at ${f.concurrency} at once`,
    `${pct(b2.ratio)} (${int(b2.msgPerSec)} of ${int(f.echoPerSec)}/s)`,
    b2.ratio >= TARGETS.b2SpawnShare,
  );
  const orderText = orderOf(b2);
  const pmid = (p: B2Result): B2Round | undefined => p.rounds.find((x) => x.msgPerSec === p.msgPerSec) ?? p.rounds[0];
  const pcpu = (k: 'central' | 'ship1' | 'natsServer'): string =>
    goCell(peer, k === 'natsServer' ? GO.b2cpuNats : k === 'ship1' ? `${GO.b2cpuNode}, excl. bash` : GO.b2cpuNode, (p) => {
      const c = pmid(p)?.cpuPer1000[k];
      return c === undefined || mid === undefined ? '—' : `${c.toFixed(3)} s; ${vs(mid.cpuPer1000[k], c)}`;
    });
  const order = judge('B2', 'replies in order', orderText, b2.inOrder);
  rows.push(
    {
      id: 'B2',
      measure: `${n} x REQCliCommand \`echo N\` central -> ship1 in one socket write, until all ${n} replies are in central's result file, median of ${b2.rounds.length} (${sec(b2.seconds)})`,
      ours: `${int(b2.msgPerSec)} msg/s`,
      floor: `spawn floor \`echo N\` ${f.concurrency} at once ${int(f.echoPerSec)}/s (bare node, ${mb(f.rssMB)}); ratio ${b2.ratio.toFixed(2)}`,
      go: goCell(peer, GO.b2rate, (p) => `${int(p.msgPerSec)} msg/s (${sec(p.seconds)}); ${vs(b2.msgPerSec, p.msgPerSec)}`, true),
      target: share,
    },
    {
      id: 'B2',
      measure: 'replies in order in the result file (one subject: ship1 -> central REQToFileAppend)',
      ours: b2.inOrder ? 'yes' : `no: ${orderText}`,
      floor: '—',
      go: goCell(peer, GO.b2order, (p) => (p.inOrder ? 'yes' : `no: ${orderOf(p)}`)),
      target: order,
    },
    {
      id: 'B2',
      measure:
        'the same, first burst of a freshly started fleet (nodes started for B2, 0.5 s before; not counted: it also compiles the code and starts the parser thread and the spawn helper)',
      ours: `${int(b2.warmup.msgPerSec)} msg/s`,
      floor: `ratio ${(b2.warmup.msgPerSec / f.echoPerSec).toFixed(2)}`,
      go: goCell(peer, '—', (p) => `${int(p.warmup.msgPerSec)} msg/s; ${vs(b2.warmup.msgPerSec, p.warmup.msgPerSec)}`),
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
      go: goCell(peer, GO.peakRss, (p) => `${mb(p.peakRssMB.ship1)} / ${mb(p.peakRssMB.central)}`),
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
        go: pcpu('central'),
        target: '—',
      },
      {
        id: 'B2',
        measure: 'CPU seconds per 1000 commands, ship1 (not counting the commands)',
        ours: `${mid.cpuPer1000.ship1.toFixed(3)} s`,
        floor: '—',
        go: pcpu('ship1'),
        target: '—',
      },
      {
        id: 'B2',
        measure: "CPU seconds per 1000 commands, ship1's spawn helper (the process that forks the commands while 4 or more run)",
        ours: `${(mid.cpuPer1000.spawnHelper ?? 0).toFixed(3)} s`,
        floor: '—',
        go: goCell(peer, '—', () => 'none (forks in its own process)'),
        target: '—',
      },
      {
        id: 'B2',
        measure: 'CPU seconds per 1000 commands, nats-server',
        ours: `${mid.cpuPer1000.natsServer.toFixed(3)} s`,
        floor: '—',
        go: pcpu('natsServer'),
        target: '—',
      },
    );
  }
}

/** B3: the message burst. */
export function rowsB3(c: Ctx, b3: B3Result, peer: B3Result | PeerFailure | undefined): void {
  const { rows, judge } = c;
  const bad = (p: B3Result): string => (p.badLines === 0 ? '' : `, ${int(p.badLines)} lines missing or wrong`);
  const n = int(b3.messages);
  const rate = judge('B3', `>= ${int(TARGETS.b3MsgPerSec)} msg/s`, `${int(b3.msgPerSec)} msg/s`, b3.msgPerSec >= TARGETS.b3MsgPerSec);
  rows.push(
    {
      id: 'B3',
      measure: `${n} x REQToFileAppend central -> ship1 in one socket write, until all written on ship1, median of ${b3.rounds.length} (${sec(b3.seconds)})`,
      ours: `${int(b3.msgPerSec)} msg/s`,
      floor: '—',
      go: goCell(peer, GO.b3rate, (p) => `${int(p.msgPerSec)} msg/s (${sec(p.seconds)})${bad(p)}; ${vs(b3.msgPerSec, p.msgPerSec)}`, true),
      target: rate,
    },
    {
      id: 'B3',
      measure:
        'the same, first burst of a freshly started fleet (nodes started for B3, 0.5 s before; not counted: it also compiles the code)',
      ours: `${int(b3.warmup.msgPerSec)} msg/s`,
      floor: '—',
      go: goCell(peer, '—', (p) => `${int(p.warmup.msgPerSec)} msg/s; ${vs(b3.warmup.msgPerSec, p.warmup.msgPerSec)}`),
      target: judge(
        'B3',
        `first burst >= ${int(TARGETS.b3FirstBurstMsgPerSec)} msg/s (issue 18)`,
        `${int(b3.warmup.msgPerSec)} msg/s`,
        b3.warmup.msgPerSec >= TARGETS.b3FirstBurstMsgPerSec,
      ),
    },
    {
      id: 'B3',
      measure: 'CPU seconds per 1000 messages, central',
      ours: `${b3.cpuPer1000.central.toFixed(3)} s`,
      floor: '—',
      go: goCell(peer, '—', (p) => `${p.cpuPer1000.central.toFixed(3)} s; ${vs(b3.cpuPer1000.central, p.cpuPer1000.central)}`),
      target: '—',
    },
    {
      id: 'B3',
      measure: 'CPU seconds per 1000 messages, ship1',
      ours: `${b3.cpuPer1000.ship1.toFixed(3)} s`,
      floor: '—',
      go: goCell(peer, '—', (p) => `${p.cpuPer1000.ship1.toFixed(3)} s; ${vs(b3.cpuPer1000.ship1, p.cpuPer1000.ship1)}`),
      target: '—',
    },
    {
      id: 'B3',
      measure: 'CPU seconds per 1000 messages, nats-server',
      ours: `${b3.cpuPer1000.natsServer.toFixed(3)} s`,
      floor: '—',
      go: goCell(peer, '—', (p) => `${p.cpuPer1000.natsServer.toFixed(3)} s; ${vs(b3.cpuPer1000.natsServer, p.cpuPer1000.natsServer)}`),
      target: '—',
    },
    {
      id: 'B3',
      measure: 'peak RSS during the bursts (VmRSS every 50 ms), central',
      ours: mb(b3.peakRssMB.central),
      floor: '—',
      go: goCell(peer, GO.peakRss, (p) => `${mb(p.peakRssMB.central)}; ${vs(b3.peakRssMB.central, p.peakRssMB.central)}`),
      target: '—',
    },
    {
      id: 'B3',
      measure: 'peak RSS during the bursts (VmRSS every 50 ms), ship1',
      ours: mb(b3.peakRssMB.ship1),
      floor: '—',
      go: goCell(peer, GO.peakRss, (p) => `${mb(p.peakRssMB.ship1)}; ${vs(b3.peakRssMB.ship1, p.peakRssMB.ship1)}`),
      target: '—',
    },
  );
}

/** How the replies of a B2 run were ordered, over its rounds. */
function orderOf(b2: B2Result): string {
  const inOrder = b2.rounds.filter((x) => x.inOrder).length;
  const worst = [...b2.rounds].sort((a, b) => b.displaced - a.displaced)[0];
  return worst === undefined || b2.inOrder
    ? `in order in ${inOrder} of ${b2.rounds.length} rounds`
    : `in order in ${inOrder} of ${b2.rounds.length} rounds; worst: ${int(worst.displaced)} of ${int(b2.messages)} lines out of place (descents: ${int(worst.descents)})`;
}
