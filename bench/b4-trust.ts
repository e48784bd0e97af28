import path from 'node:path';
import { fanOut, helloFromEvery, noErrors, simStorageRoot } from './b4-fanout.js';
import { sleep, type BenchEnv } from './lib/env.js';
import { provisionKeys } from './lib/keys.js';
import { SimFleet, simNodeName } from './lib/sim.js';

/** B4's trust comparison: the last reply of each counted round (ms), trust on and off. */
export interface B4Paired {
  n: number;
  /** Rounds not counted, one of each setting first (central derives a key with each node then). */
  warmup: number;
  on: number[];
  off: number[];
}

/**
 * B4 with trust on and with trust off side by side: two fleets of simulated nodes, each with its
 * central (`central` with `n0000`..., `offcentral` with `o0000`... at -trust=off), up at once on
 * one broker, their fan-outs alternating round by round (on first in rounds 0, 3, 4, 7, ...: A B
 * B A), so that neither gets a quieter machine. Passes of B4 run one after the other differed by
 * up to 40% with the same setting, against a budget of 10%; rounds alternating within one pass
 * take that drift out. Only one fleet works at a time; the other idles (a hello every 30 s).
 * Sixteen rounds of each are counted: single rounds still differ by up to 30% (2026-12-06: the
 * trust-on fleet at 1.00 to 1.33 times the time of the trust-off round next to it), and with
 * eight the median moved by several percent from run to run.
 */
export async function runB4TrustPaired(env: BenchEnv, quick: boolean, log: (s: string) => void): Promise<B4Paired> {
  const n = quick ? 20 : 1000;
  const perProcess = quick ? 20 : 250;
  const counted = quick ? 1 : 16;
  const warmup = 1;
  const simRoot = simStorageRoot(env);
  const settings = [
    { on: true, central: 'central', prefix: 'n', label: 'b4t-sim', flags: [] as string[] },
    { on: false, central: 'offcentral', prefix: 'o', label: 'b4t-offsim', flags: ['-trust=off'] },
  ];
  const up: { on: boolean; central: Awaited<ReturnType<BenchEnv['startNode']>>; fleet: SimFleet }[] = [];
  try {
    for (const s of settings) {
      const names = Array.from({ length: n }, (_, i) => simNodeName(s.prefix, i));
      // Known up front, as B4's: a name central has not heard from is held to the limit on new names.
      await provisionKeys(path.join(env.root, `b4t-${s.central}`, 'var', 'lib'), names, (x) => path.join(simRoot, s.label, x));
      const central = await env.startNode(s.central, `b4t-${s.central}`, s.flags, undefined, s.central);
      const { fleet, startMs } = await SimFleet.start(env, {
        count: n,
        perProcess,
        central: s.central,
        label: s.label,
        helloSeconds: 30,
        flags: ['-startSubREQErrorLog=false', ...s.flags],
        prefix: s.prefix,
        root: simRoot,
      });
      up.push({ on: s.on, central, fleet });
      log(`B4 trust ${s.on ? 'on' : 'off'}: ${n} simulated nodes subscribed in ${(startMs / 1000).toFixed(1)} s`);
      await helloFromEvery(central, fleet);
    }
    await sleep(quick ? 200 : 2000);
    const nats = await env.nats();
    const out = { on: [] as number[], off: [] as number[] };
    for (let r = 0; r < warmup + counted; r++) {
      const onFirst = r % 4 === 0 || r % 4 === 3;
      for (const f of onFirst ? up : [...up].reverse()) {
        const round = await fanOut(f.central, f.fleet, f.fleet.names, `t${r}.txt`, nats.pid);
        log(
          `B4 trust ${f.on ? 'on' : 'off'}, round ${r + 1}${r < warmup ? ' (warm-up)' : ''}: last reply after ${round.lastMs.toFixed(0)} ms`,
        );
        if (r >= warmup) (f.on ? out.on : out.off).push(round.lastMs);
        await sleep(quick ? 200 : 1000); // the replies' ACKs and the lazy commits finish
      }
    }
    for (const f of up) noErrors(f.central, `B4 trust ${f.on ? 'on' : 'off'}`);
    return { n, warmup, ...out };
  } finally {
    for (const f of up) {
      await f.fleet.stop();
      await env.stopNodes(f.central);
    }
  }
}
