import type { B0Result } from './b0-floor.js';
import { runB1 } from './b1-roundtrip.js';
import { runB3 } from './b3-burst.js';
import { runB4 } from './b4-fanout.js';
import { BenchEnv } from './lib/env.js';
import type { RunReport } from './lib/report.js';

type Id = 'B0' | 'B1' | 'B2' | 'B3' | 'B4' | 'B5' | 'B6' | 'B7';

/**
 * B1, B3 and B4 again with every node at -trust=off (a fresh broker and folders): the cost of
 * the proofs and the policy, in the same run (issue 16's budget).
 */
export async function trustOffPass(
  ids: readonly Id[],
  quick: boolean,
  b0: B0Result | undefined,
  log: (s: string) => void,
): Promise<NonNullable<RunReport['results']['trustOff']>> {
  const env = new BenchEnv(['-trust=off']);
  const out: NonNullable<RunReport['results']['trustOff']> = {};
  try {
    if (ids.includes('B1') && b0 !== undefined) {
      out.B1 = (await runB1(env, quick, b0)).ours;
      log(`B1, trust off: p50 ${out.B1.roundTrip.p50} ms`);
    }
    if (ids.includes('B3')) {
      out.B3 = (await runB3(env, quick)).ours;
      log(`B3, trust off: ${out.B3.msgPerSec} msg/s`);
    }
    if (ids.includes('B4')) {
      out.B4 = await runB4(env, quick, log);
      log(`B4, trust off: ${out.B4.sizes.map((s) => `${s.n} nodes ${s.last.p50} ms`).join(', ')}`);
    }
  } finally {
    await env.close();
  }
  return out;
}
