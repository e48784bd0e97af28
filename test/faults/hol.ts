import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DatabaseSync } from 'node:sqlite';
import { eventually, sleep } from '../support/eventually.js';
import { NatsServer } from '../support/nats-server.js';
import { StewardProcess } from '../support/steward.js';
import { percentile } from './tally.js';
import { writeSocket } from './workload.js';

/** Latencies of one series of probes, in ms. */
export interface Latencies {
  readonly p50: number;
  readonly p90: number;
  readonly max: number;
  readonly n: number;
}

export interface HeadOfLineResult {
  /** Dead nodes (killed with kill -9), each with `queued` messages waiting for it. */
  readonly dead: number;
  /** Messages queued for each dead node. */
  readonly queued: number;
  /** ACKTimeout of the queued messages, in s. */
  readonly backlogAckTimeoutS: number;
  /** Of them all, still pending in central's outbox when the last probe came back. */
  readonly pendingAtEnd: number;
  /** Round trips central -> live node -> central with nothing queued... */
  readonly baseline: Latencies;
  /** ...and the same while the dead node's backlog is being retried. */
  readonly backlog: Latencies;
  /** backlog p50 / baseline p50 (1 = no effect). */
  readonly ratioP50: number;
  readonly ratioP90: number;
}

export interface HeadOfLineOptions {
  /** Dead nodes (default 1). */
  readonly dead?: number;
  /** Messages queued for each dead node. */
  readonly queued: number;
  readonly probes: number;
  /** Pause between probes, so the probes span several retry rounds of the backlog. */
  readonly gapMs: number;
  /** ACKTimeout of the queued messages, in s: every this often the window in flight is sent again. */
  readonly backlogAckTimeoutS: number;
  readonly log: (line: string) => void;
}

function summarize(xs: readonly number[]): Latencies {
  return { p50: percentile(xs, 50), p90: percentile(xs, 90), max: Math.max(...xs), n: xs.length };
}

/** Sends one command to `to` through central's socket and returns the ms until its reply line is in the result file. */
async function probe(central: StewardProcess, to: string, file: string, tag: string): Promise<number> {
  const resultFile = path.join(central.dataDir, 'hol', to, file);
  const before = fs.existsSync(resultFile) ? fs.statSync(resultFile).size : 0;
  const msg = {
    toNode: to,
    method: 'REQCliCommand',
    methodArgs: ['echo', tag],
    directory: 'hol',
    fileName: file,
    ACKTimeout: 5,
    retries: -1,
  };
  const t0 = performance.now();
  const res = await writeSocket(central.socketPath, JSON.stringify(msg));
  if (res.lines[0]?.status !== 'accepted') throw new Error(`probe ${tag} was not accepted: ${JSON.stringify(res.lines)}`);
  await eventually(() => fs.existsSync(resultFile) && fs.statSync(resultFile).size > before, {
    what: `the reply to ${tag}`,
    timeoutMs: 30_000,
    intervalMs: 2,
  });
  return performance.now() - t0;
}

function pendingFor(node: StewardProcess, toNodes: readonly string[]): number {
  const db = new DatabaseSync(path.join(node.dir, 'var', 'lib', 'steward.db'), { readOnly: true });
  try {
    const rows = db.prepare("SELECT to_node AS toNode, count(*) AS n FROM outbox WHERE state = 'pending' GROUP BY to_node").all() as {
      toNode: string;
      n: number;
    }[];
    return rows.filter((r) => toNodes.includes(r.toNode)).reduce((a, r) => a + r.n, 0);
  } finally {
    db.close();
  }
}

/**
 * Head-of-line isolation: the round-trip latency of commands from central to a live node,
 * first with nothing else queued, then while thousands of messages wait for one or more dead
 * nodes (each probed again every ACK timeout). Reported as a ratio of the two; never asserted,
 * since the machine's noise is of the same order. The nodes run with the default delivery
 * settings (only hellos are off).
 */
export async function measureHeadOfLine(o: HeadOfLineOptions): Promise<HeadOfLineResult> {
  const deadCount = o.dead ?? 1;
  const deadNames = deadCount === 1 ? ['dead'] : Array.from({ length: deadCount }, (_, i) => `dead${i + 1}`);
  const nats = await NatsServer.start();
  const flags = ['-startPubREQHello=0'];
  const brokerUrl = `127.0.0.1:${nats.port}`;
  const nodes: StewardProcess[] = [];
  /** Starts the named nodes together; the ones that came up are kept in `nodes` (stopped at the end) even when another did not. */
  const startAll = async (names: readonly string[]): Promise<StewardProcess[]> => {
    const started = await Promise.allSettled(names.map((name) => StewardProcess.start({ name, central: 'central', brokerUrl, flags })));
    const up = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    nodes.push(...up);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return up;
  };
  try {
    await startAll(['central', 'live']);
    // The dead ones come up (central knows them) and are killed, a few at a time on a small machine.
    for (let i = 0; i < deadNames.length; i += 4) {
      const group = await startAll(deadNames.slice(i, i + 4));
      await Promise.all(group.map((n) => n.kill9()));
    }
    const central = nodes[0] as StewardProcess;
    // Warm up: the first round trips pay for connections and JIT.
    for (let i = 0; i < 5; i++) await probe(central, 'live', 'warmup.txt', `warmup-${i}`);

    const baseline: number[] = [];
    for (let i = 0; i < o.probes; i++) {
      baseline.push(await probe(central, 'live', 'baseline.txt', `baseline-${i}`));
      await sleep(o.gapMs);
    }

    for (const toNode of deadNames) {
      const backlog = Array.from({ length: o.queued }, (_, i) => ({
        toNode,
        method: 'REQCliCommand',
        methodArgs: ['echo', `queued-${i}`],
        ACKTimeout: o.backlogAckTimeoutS,
        retries: -1,
      }));
      const answers = await writeSocket(central.socketPath, JSON.stringify(backlog));
      const accepted = answers.lines.filter((l) => l.status === 'accepted').length;
      if (accepted !== o.queued) throw new Error(`only ${accepted} of ${o.queued} queued messages for ${toNode} were accepted`);
    }
    o.log(`  head-of-line: ${o.queued} messages queued for each of ${deadNames.length} dead node(s)`);

    const withBacklog: number[] = [];
    for (let i = 0; i < o.probes; i++) {
      withBacklog.push(await probe(central, 'live', 'backlog.txt', `backlog-${i}`));
      await sleep(o.gapMs);
    }
    const pendingAtEnd = pendingFor(central, deadNames);
    const b = summarize(baseline);
    const w = summarize(withBacklog);
    return {
      dead: deadNames.length,
      queued: o.queued,
      backlogAckTimeoutS: o.backlogAckTimeoutS,
      pendingAtEnd,
      baseline: b,
      backlog: w,
      ratioP50: w.p50 / b.p50,
      ratioP90: w.p90 / b.p90,
    };
  } finally {
    const stops = await Promise.allSettled(nodes.map((n) => n.stop()));
    await nats.close();
    for (const n of nodes) n.cleanup();
    // A node that did not stop cleanly is logged (a thrown error here would hide the first one).
    for (const r of stops) if (r.status === 'rejected') o.log(`  head-of-line: ${(r.reason as Error).message}`);
  }
}

export function formatHeadOfLine(r: HeadOfLineResult): string {
  const ms = (x: number): string => x.toFixed(1);
  const total = r.queued * r.dead;
  const backlog = r.dead === 1 ? `${r.queued} queued for a dead node` : `${r.queued} queued for each of ${r.dead} dead nodes`;
  return [
    `| live-node round trip | p50 ms | p90 ms | max ms | probes |`,
    `|---|---|---|---|---|`,
    `| nothing queued | ${ms(r.baseline.p50)} | ${ms(r.baseline.p90)} | ${ms(r.baseline.max)} | ${r.baseline.n} |`,
    `| ${backlog} | ${ms(r.backlog.p50)} | ${ms(r.backlog.p90)} | ${ms(r.backlog.max)} | ${r.backlog.n} |`,
    ``,
    `ratio p50 ${r.ratioP50.toFixed(2)}, p90 ${r.ratioP90.toFixed(2)} (1.00 = the backlog costs live nodes nothing); slowest round trip with the backlog ${ms(r.backlog.max)} ms (target: within 1 s); ${r.pendingAtEnd} of ${total} still pending for the dead node(s) at the end (queued with ACKTimeout ${r.backlogAckTimeoutS} s, retries -1)`,
  ].join('\n');
}

/** `tsx test/faults/hol.ts [--dead N] [--queued N] [--probes N]`: the measurement alone. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dead: { type: 'string', default: '1' },
      queued: { type: 'string', default: '5000' },
      probes: { type: 'string', default: '30' },
      'gap-ms': { type: 'string', default: '100' },
      'ack-timeout': { type: 'string', default: '2' },
    },
  });
  const r = await measureHeadOfLine({
    dead: Number(values.dead),
    queued: Number(values.queued),
    probes: Number(values.probes),
    gapMs: Number(values['gap-ms']),
    backlogAckTimeoutS: Number(values['ack-timeout']),
    log: (l) => console.log(l),
  });
  console.log(formatHeadOfLine(r));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
