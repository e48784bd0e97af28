import { sleep } from '../support/eventually.js';
import { settled } from '../support/exactly-once.js';
import { describeFault, type Fault, type IterationPlan, type Shape } from './schedule.js';
import { accounted, judge, observe, type Tally } from './tally.js';
import { commandMessage, flowFiles, readReports, writeSocket, type Command, type FlowFiles, type Report } from './workload.js';
import type { World } from './world.js';

/** What one iteration did and found. */
export interface IterationResult {
  readonly index: number;
  readonly faults: readonly Fault[];
  /** Faults whose action failed (a restart that did not come up, ...). */
  readonly faultErrors: string[];
  tally: Tally;
  /** For commands accepted before recovery and done after it: ms from recovery to done. */
  readonly recoveryLatenciesMs: number[];
  /** From the start of the iteration to the moment every fault had healed. */
  readonly recoveredAfterMs: number;
  /** From recovery to quiescence (everything accounted for and every store settled). */
  readonly quietMs: number;
  readonly quiesced: boolean;
  /** Kept for the final pass, which judges every iteration again at the end of the run. */
  readonly commands: readonly Command[];
  readonly files: readonly FlowFiles[];
}

export interface IterationOptions {
  /** How long after recovery everything must be accounted for and settled. */
  readonly quiesceMs: number;
  readonly log: (line: string) => void;
  readonly verbose: boolean;
}

/** Each node's outbox has nothing pending and its inbox nothing unfinished (false when a store cannot be read). */
export function allSettled(world: World): boolean {
  return [...world.nodes.values()].every((n) => {
    try {
      return settled(n);
    } catch {
      return false;
    }
  });
}

/** The resources a fault holds: two faults on one resource run one after the other. */
function resourcesOf(f: Fault): string[] {
  if (f.kind === 'broker-restart' || f.kind === 'server-loss') return ['broker'];
  if (f.kind.startsWith('link-')) return f.nodes.map((n) => `link:${n}`);
  return f.nodes.map((n) => `node:${n}`);
}

/** Strikes, waits the fault's duration, heals. */
async function strike(world: World, f: Fault): Promise<void> {
  const links = f.nodes.flatMap((n) => world.linksOf(n));
  switch (f.kind) {
    case 'kill-sender':
    case 'kill-receiver':
    case 'kill-both':
      await Promise.all(f.nodes.map((n) => world.kill(n)));
      await sleep(f.durationMs);
      await Promise.all(f.nodes.map((n) => world.restart(n)));
      return;
    case 'kill-helper':
      await Promise.all(f.nodes.map((n) => world.killHelper(n)));
      return;
    case 'offline-long':
      await Promise.all(f.nodes.map((n) => world.stop(n)));
      await sleep(f.durationMs);
      await Promise.all(f.nodes.map((n) => world.restart(n)));
      return;
    case 'broker-restart':
    case 'server-loss': {
      const b = world.brokers[f.server ?? 0];
      if (b === undefined) throw new Error(`no broker ${f.server}`);
      await b.stop(f.kind === 'server-loss' ? true : (f.hard ?? false));
      await sleep(f.durationMs);
      await b.restart();
      return;
    }
    case 'link-cut':
      for (const l of links) l.cutLink();
      await sleep(f.durationMs);
      for (const l of links) l.restore();
      return;
    case 'link-stall':
      for (const l of links) l.stall();
      await sleep(f.durationMs);
      for (const l of links) l.resume();
      return;
    case 'link-slow':
      for (const l of links) l.delayMs = f.delayMs ?? 0;
      await sleep(f.durationMs);
      for (const l of links) l.delayMs = 0;
      return;
  }
}

const sleepUntil = (t: number): Promise<void> => sleep(Math.max(0, t - Date.now()));

/**
 * Runs one iteration: the batches of the plan are written to the senders' sockets while its
 * faults strike; once every fault has healed, waits (bounded) until every accepted command is
 * accounted for and every store has settled, then judges every command.
 */
export async function runIteration(
  world: World,
  index: number,
  plan: IterationPlan,
  shape: Shape,
  opts: IterationOptions,
): Promise<IterationResult> {
  const central = world.node('central');
  const files = shape.flows.map((f) => flowFiles(index, f, world.node(f.from), world.node(f.to)));
  const commands: Command[] = [];
  const nextN = shape.flows.map(() => 0);
  const faultErrors: string[] = [];
  let reports = new Map<string, Set<Report>>();

  const tick = (): void => {
    const o = observe(files);
    reports = readReports(central.errorLog);
    const now = Date.now();
    for (const c of commands) if (c.state === 'accepted' && c.doneAtMs === undefined && accounted(c, o, reports)) c.doneAtMs = now;
  };

  const t0 = Date.now();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      tick();
      await sleep(200);
    }
  })();

  const sendBatch = async (b: IterationPlan['batches'][number]): Promise<void> => {
    await sleepUntil(t0 + b.atMs);
    const flow = shape.flows[b.flow];
    if (flow === undefined) throw new Error(`no flow ${b.flow}`);
    const from = world.node(flow.from);
    const batch: Command[] = Array.from({ length: b.count }, () => {
      const n = nextN[b.flow] ?? 0;
      nextN[b.flow] = n + 1;
      return { flow: b.flow, n, finite: b.finite, state: 'unconfirmed' };
    });
    commands.push(...batch);
    const body = JSON.stringify(batch.map((c) => commandMessage(flow, files[b.flow] as FlowFiles, index, c.n, b)));
    const deadline = Date.now() + 120_000;
    for (;;) {
      // A node that is down refuses the connection: nothing can have been accepted, so the
      // same batch is written again once it is back, as an operator would.
      const res = await writeSocket(from.socketPath, body);
      if (!res.connected) {
        if (Date.now() > deadline) {
          for (const c of batch) Object.assign(c, { state: 'refused', refusal: `${flow.from}'s socket refused connections for 120 s` });
          return;
        }
        await sleep(250);
        continue;
      }
      const at = Date.now();
      for (const line of res.lines) {
        const c = batch[line.index];
        if (c === undefined) continue;
        if (line.status === 'accepted' && line.id !== undefined) Object.assign(c, { state: 'accepted', id: line.id, acceptedAtMs: at });
        else Object.assign(c, { state: 'refused', refusal: line.error ?? 'error' });
      }
      // Commands without an answer line stay unconfirmed: the sender died while answering.
      return;
    }
  };

  const chains = new Map<string, Promise<void>>();
  const runFault = (f: Fault): Promise<void> => {
    const keys = resourcesOf(f);
    const before = Promise.all(keys.map((k) => chains.get(k) ?? Promise.resolve()));
    const p = (async () => {
      await before;
      await sleepUntil(t0 + f.atMs);
      if (opts.verbose) opts.log(`  strike ${describeFault(f)} at ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      try {
        await strike(world, f);
      } catch (err) {
        faultErrors.push(`${describeFault(f)}: ${(err as Error).message.slice(0, 500)}`);
        // Leave the world whole for the next fault: every node up, every broker up.
        for (const name of f.nodes) if (!world.node(name).running) await world.restart(name).catch(() => {});
        if (f.kind === 'broker-restart' || f.kind === 'server-loss') await world.brokers[f.server ?? 0]?.restart().catch(() => {});
      }
    })();
    for (const k of keys) chains.set(k, p);
    return p;
  };

  const workload = Promise.all(plan.batches.map(sendBatch));
  await Promise.all(plan.faults.map(runFault));
  for (const ls of world.links.values()) for (const l of ls) l.heal();
  const recoveredAt = Date.now();
  await workload;

  // Quiescence: every accepted command accounted for, every store settled, every node connected.
  const deadline = Date.now() + opts.quiesceMs;
  let quiesced = false;
  while (Date.now() < deadline) {
    tick();
    const allDone = commands.every((c) => c.state !== 'accepted' || c.doneAtMs !== undefined);
    if (allDone && allSettled(world) && [...world.nodes.values()].every((n) => n.running)) {
      quiesced = true;
      break;
    }
    await sleep(250);
  }
  const quietMs = Date.now() - recoveredAt;
  polling = false;
  await poller;
  tick();

  const tally = judge(commands, shape.flows, observe(files), reports);
  const recoveryLatenciesMs = commands
    .filter((c) => c.acceptedAtMs !== undefined && c.acceptedAtMs < recoveredAt && c.doneAtMs !== undefined && c.doneAtMs > recoveredAt)
    .map((c) => (c.doneAtMs as number) - recoveredAt);
  return {
    index,
    faults: plan.faults,
    faultErrors,
    tally,
    recoveryLatenciesMs,
    recoveredAfterMs: recoveredAt - t0,
    quietMs,
    quiesced,
    commands,
    files,
  };
}

/** Judges an iteration again from its files as they are now (the final pass of a run). */
export function rejudge(r: IterationResult, shape: Shape, errorLog: string): Tally {
  return judge(r.commands, shape.flows, observe(r.files), readReports(errorLog));
}
