import type { B0Result } from './b0-floor.js';
import { mergeB1, runB1, type B1Result } from './b1-roundtrip.js';
import { mergeB3, runB3, type B3Result } from './b3-burst.js';
import { runB4TrustPaired } from './b4-trust.js';
import { runB7 } from './b7-wire.js';
import { BenchEnv } from './lib/env.js';
import type { RunReport } from './lib/report.js';
import { isFailure, oursStack, type PerKind } from './lib/stack.js';

/** B3's passes of fresh pairs in the trust comparison (every other one started with the trust-off pair). */
const B3_PASSES = 4;
/** B1's passes of fresh pairs in the trust comparison (half of them started with the trust-off pair). */
const B1_PASSES = 6;
/** ... and with --quick (only to check that it runs). */
const B1_PASSES_QUICK = 2;

type Id = 'B0' | 'B1' | 'B2' | 'B3' | 'B4' | 'B5' | 'B6' | 'B7';

/** The trust-off half of a paired run (it runs in the peer's place), or why it failed. */
function offHalf<T extends object>(r: PerKind<T>, what: string): T {
  if (r.peer === undefined || isFailure(r.peer)) throw new Error(`${what} with trust off failed: ${r.peer?.failed ?? 'it did not run'}`);
  return r.peer;
}

/**
 * The cost of the proofs and the policy, in the same run (issue 16's budget). B1 and B3 run a
 * pair of nodes with trust on (central, ship1) and a pair with -trust=off (offcentral,
 * offship1) side by side on one broker, their samples and rounds alternating (on first in even
 * rounds, off first in odd ones), so neither gets a quieter machine. B4 does the same with two
 * fleets of 1,000 simulated nodes up at once (b4-trust.ts). B7 (bytes on the wire: what the
 * proofs add to each exchange) runs once more with trust off.
 */
export async function trustOffPass(
  ids: readonly Id[],
  quick: boolean,
  b0: B0Result | undefined,
  log: (s: string) => void,
): Promise<NonNullable<RunReport['results']['trustOff']>> {
  const out: NonNullable<RunReport['results']['trustOff']> = {};
  const paired = new BenchEnv();
  try {
    const stacks = [oursStack(paired), oursStack(paired, { prefix: 'off', flags: ['-trust=off'] })];
    if (ids.includes('B1') && b0 !== undefined) {
      // Passes with fresh pairs, every other one starting and leading with the trust-off pair.
      // With both pairs trust on (an A/A run, one pass), one pair ran 0.05 to 0.22 ms slower than
      // the other: a difference between pairs of the size of the budget (+0.3 ms). Two passes
      // halved it (A/A: +0.00, +0.16, +0.04 ms), but four full runs of two passes still gave
      // +0.11 to +0.48 ms for the same code: the p50 of 100 samples moves by about 0.2 ms on this
      // VM. Six passes (300 samples of each setting, three pairs of each started first) narrow
      // that by about half.
      const on: B1Result[] = [];
      const off: B1Result[] = [];
      out.B1Orders = [];
      const passes = quick ? B1_PASSES_QUICK : B1_PASSES;
      for (let pass = 0; pass < passes; pass++) {
        const onFirst = pass % 2 === 0;
        const r = await runB1(paired, quick, b0, onFirst ? stacks : [...stacks].reverse(), log, `b1-pass${pass}`);
        const offR = offHalf(r, 'B1');
        on.push(r.ours);
        off.push(offR);
        out.B1Orders.push({ onFirst, on: r.ours.roundTrip.p50, off: offR.roundTrip.p50 });
        log(
          `B1 pass ${pass + 1} of ${passes}, trust ${onFirst ? 'on' : 'off'} started first: p50 on ${r.ours.roundTrip.p50} / off ${offR.roundTrip.p50} ms`,
        );
      }
      out.B1On = mergeB1(on, b0);
      out.B1 = mergeB1(off, b0);
      log(`B1, trust on / off alternating: p50 ${out.B1On.roundTrip.p50} / ${out.B1.roundTrip.p50} ms over ${passes} passes`);
    }
    if (ids.includes('B3')) {
      // Passes of fresh pairs, nine rounds each, every other one started and led by the trust-off
      // pair: on this VM rounds of one setting differ by up to 30%, against a budget of 10%, and
      // one pair can be slower than another with the same code for a whole pass (passes of the
      // same code read 82 to 101%, 2026-12-06).
      const on: B3Result[] = [];
      const off: B3Result[] = [];
      out.B3Passes = [];
      for (let pass = 0; pass < (quick ? 1 : B3_PASSES); pass++) {
        const onFirst = pass % 2 === 0;
        const r = await runB3(paired, quick, onFirst ? stacks : [...stacks].reverse(), log, 9, `b3-pass${pass}`);
        const offR = offHalf(r, 'B3');
        on.push(r.ours);
        off.push(offR);
        out.B3Passes.push({ onFirst, on: r.ours.msgPerSec, off: offR.msgPerSec });
        log(
          `B3 pass ${pass + 1} of ${B3_PASSES}, trust ${onFirst ? 'on' : 'off'} started first: ${r.ours.msgPerSec} / ${offR.msgPerSec} msg/s`,
        );
      }
      out.B3On = mergeB3(on);
      out.B3 = mergeB3(off);
      log(`B3, trust on / off alternating: ${out.B3On.msgPerSec} / ${out.B3.msgPerSec} msg/s over ${on.length} passes`);
    }
  } finally {
    await paired.close();
  }
  if (ids.includes('B4')) {
    const env = new BenchEnv();
    try {
      out.B4Paired = await runB4TrustPaired(env, quick, log);
    } finally {
      await env.close();
    }
  }
  if (ids.includes('B7')) {
    const env = new BenchEnv(['-trust=off']);
    try {
      out.B7 = await runB7(env, quick);
      log(`B7, trust off: ${out.B7.settings.map((s) => `${s.setting} ${s.inBytes + s.outBytes} B`).join(', ')}`);
    } finally {
      await env.close();
    }
  }
  return out;
}
