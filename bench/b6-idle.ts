import { spawn } from 'node:child_process';
import type { BenchEnv } from './lib/env.js';
import { rssByMapping, rssMB, statusMB, type RssByMapping } from './lib/procfs.js';
import { oursStack, Turns, type BenchNode, type Kind, type PerKind, type Stack } from './lib/stack.js';
import { round } from './lib/stats.js';

export interface B6Result {
  /** Seconds the node was left idle before the reading. */
  idleSeconds: number;
  /** VmRSS right after it subscribed (MB). */
  rssAtStartMB: number;
  /** VmRSS after idleSeconds (MB): the figure reported. */
  rssMB: number;
  /** Of rssMB: private memory (heap, stacks, malloc), which the node alone holds. */
  anonMB: number;
  /** Of rssMB: pages of files (the node binary, native modules), shared and reclaimable. */
  fileMB: number;
  /** The same split for the bare node process. */
  bareAnonMB: number;
  bareFileMB: number;
  /** Of rssMB, by mapping (absent in runs before it was added). */
  mappings?: RssByMapping;
  bareMappings?: RssByMapping;
  /** Floor: VmRSS of a bare `node` process (an empty timer loop) after the same idle time (MB). */
  bareNodeRssMB: number;
  /** VmRSS of the steward node sampled every second while idle (MB). */
  series: number[];
}

interface Reading {
  rss: number;
  anon: number;
  file: number;
  mappings: RssByMapping;
}

/** One process's RSS now, in the parts B6 reports. */
function read(pid: number): Reading {
  return {
    rss: round(rssMB(pid), 1),
    anon: round(statusMB(pid, 'RssAnon'), 1),
    file: round(statusMB(pid, 'RssFile'), 1),
    mappings: rounded(rssByMapping(pid)),
  };
}

/**
 * Starts an idle node of each stack now (ours idle1; in peer mode the peer's gidle1 beside it:
 * no hello for ours, the peer's default hello every 30 s, which it needs, see PeerProcess; nothing
 * sent to either) and a bare node process beside them; returns a function that resolves with
 * their RSS, all read at the same moment, idleSeconds after the start. The other benchmarks run
 * meanwhile (they never address these nodes).
 */
export async function startB6(
  env: BenchEnv,
  quick: boolean,
  stacks: readonly Stack[] = [oursStack(env)],
  log?: (s: string) => void,
): Promise<() => Promise<PerKind<B6Result>>> {
  const idleSeconds = quick ? 5 : 60;
  const bare = env.track(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }));
  const barePid = bare.pid;
  if (barePid === undefined) throw new Error('B6: the bare node process did not start');
  const turns = new Turns(stacks, log);
  const nodes = new Map<Kind, { node: BenchNode; rssAtStartMB: number; series: number[] }>();
  await turns.each(0, async (s) => {
    const node = await s.startIdle('b6');
    nodes.set(s.kind, { node, rssAtStartMB: round(rssMB(node.pid as number), 1), series: [] });
  });
  const sampler = setInterval(() => {
    for (const n of nodes.values()) {
      try {
        n.series.push(round(rssMB(n.node.pid as number), 1));
      } catch {
        // Gone: reported at the end.
      }
    }
  }, 1000);
  sampler.unref();
  const readings = new Promise<{ bare: Reading; nodes: Map<Kind, Reading | Error> } | Error>((resolve) => {
    setTimeout(() => {
      clearInterval(sampler);
      try {
        const out = new Map<Kind, Reading | Error>();
        for (const [kind, n] of nodes) {
          try {
            if (!n.node.running) throw new Error(`B6: the idle node ${n.node.opts.name} exited: ${n.node.stderr.slice(-2000)}`);
            out.set(kind, read(n.node.pid as number));
          } catch (err) {
            out.set(kind, err as Error);
          }
        }
        resolve({ bare: read(barePid), nodes: out });
      } catch (err) {
        resolve(err as Error);
      }
    }, idleSeconds * 1000);
  });
  return async () => {
    const r = await readings;
    bare.kill('SIGKILL');
    for (const s of stacks) {
      const n = nodes.get(s.kind);
      if (n !== undefined) await s.stop(n.node);
    }
    if (r instanceof Error) throw r;
    const result = (k: Kind): B6Result => {
      const n = nodes.get(k);
      const m = r.nodes.get(k);
      if (n === undefined || m === undefined) throw new Error(`B6: no idle node of ${k}`);
      if (m instanceof Error) throw m;
      return {
        idleSeconds,
        rssAtStartMB: n.rssAtStartMB,
        rssMB: m.rss,
        anonMB: m.anon,
        fileMB: m.file,
        bareAnonMB: r.bare.anon,
        bareFileMB: r.bare.file,
        mappings: m.mappings,
        bareMappings: r.bare.mappings,
        bareNodeRssMB: r.bare.rss,
        series: n.series,
      };
    };
    return { ours: result('ours'), peer: turns.peer(() => result('peer')) };
  };
}

function rounded(m: RssByMapping): RssByMapping {
  return {
    nodeCode: round(m.nodeCode, 1),
    nodeData: round(m.nodeData, 1),
    nativeModules: round(m.nativeModules, 1),
    otherFiles: round(m.otherFiles, 1),
    noFile: round(m.noFile, 1),
  };
}
