import type { B4Result } from '../b4-fanout.js';
import { jobRatio } from '../b4-jobs.js';
import type { B5Result } from '../b5-backlog.js';
import type { B6Result } from '../b6-idle.js';
import type { B7Result } from '../b7-wire.js';
import type { RssByMapping } from './procfs.js';
import { GO, goCell, int, mb, ms, pct, sec, TARGETS, vs, type Ctx, type RunReport } from './report-base.js';
import type { PeerFailure } from './stack.js';
import { median } from './stats.js';

/** B4: the fan-out, its job and rollout. */
export function rowsB4(c: Ctx, b4: B4Result): void {
  const { rows, judge, quick } = c;
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
          `job's end <= ${TARGETS.b4JobRatio}x the plain fan-out (issue 19)`,
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
          `steward job < ${TARGETS.b4JobViewMs} ms for ${int(j.n)} nodes (issue 19)`,
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
          `rollout <= ${TARGETS.b4JobRatio}x ten fan-outs (issue 19)`,
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

/** B5: the offline backlog. */
export function rowsB5(c: Ctx, b5: B5Result, peer: B5Result | PeerFailure | undefined): void {
  const { rows, judge } = c;
  const n = int(b5.messages);
  const subscribed = subscribedOf(b5);
  const peakOf = (x: B5Result): string =>
    `${mb(Math.max(...x.rounds.map((y) => y.drainPeakRssMB.central)))} / ${mb(Math.max(...x.rounds.map((y) => y.drainPeakRssMB.ship1)))}`;
  const drain = judge(
    'B5',
    `drained <= ${TARGETS.b5DrainSeconds} s (${int(TARGETS.b5Messages)} messages)`,
    `${sec(b5.seconds)} for ${n}`,
    b5.messages === TARGETS.b5Messages && b5.seconds <= TARGETS.b5DrainSeconds,
  );
  rows.push(
    {
      id: 'B5',
      measure: `offline backlog: ${n} x REQToFileAppend (retries -1${peer === undefined ? '' : '; the peer: 1000 attempts'}) queued on central for stopped ship1; ship1 started -> all written on ship1, median of ${b5.rounds.length}`,
      ours: sec(b5.seconds),
      floor: `of which ship1 start -> subscribed ${sec(subscribed)}; ${int(b5.msgPerSec)} msg/s`,
      go: goCell(
        peer,
        GO.b5,
        (p) => `${sec(p.seconds)} (start -> its hello at central ${sec(subscribedOf(p))}); ${vs(b5.seconds, p.seconds)}`,
        true,
      ),
      target: drain,
    },
    {
      id: 'B5',
      measure: `sender (central) RSS holding the backlog, ${b5.holdSeconds} s after it was accepted, median`,
      ours: mb(b5.holdRssMB),
      floor: `before it was queued ${mb(b5.idleRssMB)}`,
      go: goCell(peer, '—', (p) => `${mb(p.holdRssMB)} (before ${mb(p.idleRssMB)}); ${vs(b5.holdRssMB, p.holdRssMB)}`),
      target: '—',
    },
    {
      id: 'B5',
      measure: 'peak RSS while the backlog drains, central / ship1 (max of the rounds)',
      ours: peakOf(b5),
      floor: '—',
      go: goCell(peer, GO.peakRss, peakOf),
      target: '—',
    },
  );
}

/** B6: the idle node's memory. */
export function rowsB6(c: Ctx, b6: B6Result, peer: B6Result | PeerFailure | undefined): void {
  const { rows, judge } = c;
  rows.push({
    id: 'B6',
    measure: `RSS of an idle node after ${b6.idleSeconds} s`,
    ours: mb(b6.rssMB),
    floor: `bare node ${mb(b6.bareNodeRssMB)}; ratio ${(b6.rssMB / b6.bareNodeRssMB).toFixed(2)}x`,
    go: goCell(peer, GO.idleRss, (p) => `${mb(p.rssMB)}; ${vs(b6.rssMB, p.rssMB)}`, true),
    target: [
      judge('B6', `idle RSS <= ${TARGETS.idleRssMB} MB`, mb(b6.rssMB), b6.rssMB <= TARGETS.idleRssMB),
      judge(
        'B6',
        `idle RSS <= ${TARGETS.idleRss18MB} MB (issue 18)`,
        `${mb(b6.rssMB)}, ${(b6.rssMB / b6.bareNodeRssMB).toFixed(2)}x a bare node`,
        b6.rssMB <= TARGETS.idleRss18MB,
      ),
    ].join('; '),
  });
  if (b6.anonMB !== undefined) {
    rows.push({
      id: 'B6',
      measure: 'of which private (RssAnon: heap, stacks, malloc) / file pages (RssFile: node binary, native modules; shared, reclaimable)',
      ours: `${mb(b6.anonMB)} / ${mb(b6.fileMB)}`,
      floor: `bare node ${mb(b6.bareAnonMB)} / ${mb(b6.bareFileMB)}`,
      go: goCell(peer, '—', (p) => `${mb(p.anonMB)} / ${mb(p.fileMB)}`),
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
      go: goCell(peer, '—', (p) => (p.mappings === undefined ? '—' : `its executable: ${split(p.mappings)}`)),
      target: '—',
    });
  }
}

/** B1, B3 and B4 with trust off, against trust on (`--trust-compare`). */
export function rowsTrustOff(c: Ctx, r: RunReport['results'], off: NonNullable<RunReport['results']['trustOff']>): void {
  const { rows, judge } = c;
  // Runs before the paired pass compared with the main pass's trust-on figures, taken earlier.
  const on1 = off.B1On ?? r.B1;
  const on3 = off.B3On ?? r.B3;
  const how = (paired: boolean): string =>
    paired ? 'samples alternating with a trust-on pair on the same broker' : 'after the trust-on rounds';
  if (off.B1 !== undefined && on1 !== undefined) {
    const extra = on1.roundTrip.p50 - off.B1.roundTrip.p50;
    const orders =
      off.B1Orders === undefined
        ? ''
        : `; ${off.B1Orders.map((o) => `${o.onFirst ? 'on' : 'off'} pair started first ${ms(o.on)} / ${ms(o.off)}`).join(', ')}`;
    rows.push({
      id: 'B1',
      measure: `round trip p50 with trust off (every node -trust=off, same run, ${how(off.B1On !== undefined)}${off.B1Orders === undefined ? '' : `; ${off.B1Orders.length} passes of fresh pairs, each setting started first in half of them, the samples of all`})`,
      ours: ms(off.B1.roundTrip.p50),
      floor: `trust on ${ms(on1.roundTrip.p50)}: ${extra >= 0 ? '+' : ''}${ms(extra)}${orders}`,
      go: '—',
      target: judge(
        'B1',
        `trust costs <= +${TARGETS.trustB1Ms} ms (issue 16)`,
        `${extra >= 0 ? '+' : ''}${ms(extra)}`,
        extra <= TARGETS.trustB1Ms,
      ),
    });
  }
  if (off.B3 !== undefined && on3 !== undefined) {
    const share = on3.msgPerSec / off.B3.msgPerSec;
    rows.push({
      id: 'B3',
      measure: `the burst with trust off (every node -trust=off, same run, ${how(off.B3On !== undefined).replace('samples', 'rounds')}${off.B3.passes === undefined ? '' : `; ${off.B3.passes} passes of fresh pairs, each setting started first in half of them`}), median of ${off.B3.rounds.length}`,
      ours: `${int(off.B3.msgPerSec)} msg/s`,
      floor: `trust on ${int(on3.msgPerSec)} msg/s: ${pct(share)} of it; first bursts on / off ${int(on3.warmup.msgPerSec)} / ${int(off.B3.warmup.msgPerSec)} msg/s${
        off.B3Passes === undefined
          ? ''
          : `; each pass on / off: ${off.B3Passes.map((p) => `${pct(p.on / p.off)} (${p.onFirst ? 'on' : 'off'} pair started first)`).join(', ')}`
      }`,
      go: '—',
      target: judge('B3', `trust on >= ${pct(TARGETS.trustShare)} of trust off (issue 16)`, pct(share), share >= TARGETS.trustShare),
    });
  }
  const p4 = off.B4Paired;
  if (p4 !== undefined && p4.on.length > 0 && p4.off.length > 0) {
    // A share of speed: trust on at 90% of the speed means at most 1/0.9 of the time.
    const share = median(p4.off) / median(p4.on);
    const list = (xs: number[]): string => xs.map((x) => int(x)).join(' / ');
    rows.push({
      id: 'B4',
      measure: `fan-out to ${int(p4.n)} nodes with trust off (a second fleet and central at -trust=off, up at once on the same broker, rounds alternating with the trust-on fleet's), last reply, median of ${p4.off.length} rounds after ${p4.warmup} of each`,
      ours: ms(median(p4.off)),
      floor: `trust on ${ms(median(p4.on))}: trust on runs at ${pct(share)} of its speed; rounds off ${list(p4.off)} ms, on ${list(p4.on)} ms`,
      go: '—',
      target: judge(
        'B4',
        `trust on >= ${pct(TARGETS.trustShare)} of trust off's speed (issue 16)`,
        pct(share),
        share >= TARGETS.trustShare,
      ),
    });
  }
  for (const s of off.B7?.settings ?? []) {
    const on = r.B7?.settings.find((o) => o.setting === s.setting);
    const total = s.inBytes + s.outBytes;
    rows.push({
      id: 'B7',
      measure: `bytes through the broker per B1 exchange with trust off, \`-serialization=${s.serialization} -compression=${s.compression}\``,
      ours: `${int(total)} B`,
      floor: `${s.ratioToJson.toFixed(2)}x JSON uncompressed with trust off${on === undefined ? '' : `; trust on ${int(on.inBytes + on.outBytes)} B: the proofs add ${int(on.inBytes + on.outBytes - total)} B`}`,
      go: '—',
      target: '—',
    });
  }
}

/** B7: bytes on the wire. */
export function rowsB7(c: Ctx, b7: B7Result): void {
  const { rows, judge } = c;
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

/** The median of ship1's start -> able to take messages over the rounds. */
function subscribedOf(b5: B5Result): number {
  return b5.rounds.map((x) => x.subscribedSeconds).sort((a, b) => a - b)[Math.floor(b5.rounds.length / 2)] ?? Number.NaN;
}
