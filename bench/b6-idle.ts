import { spawn } from 'node:child_process';
import type { BenchEnv } from './lib/env.js';
import { rssByMapping, rssMB, statusMB, type RssByMapping } from './lib/procfs.js';
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

/**
 * Starts an idle node now (no hello, nothing sent to it) and a bare node process beside it;
 * returns a function that resolves with their RSS read exactly idleSeconds after the start.
 * The other benchmarks run meanwhile (they never address this node).
 */
export async function startB6(env: BenchEnv, quick: boolean): Promise<() => Promise<B6Result>> {
  const idleSeconds = quick ? 5 : 60;
  const bare = env.track(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }));
  const node = await env.startNode('idle1', 'b6-idle1', ['-startSubREQErrorLog=false']);
  const pid = node.pid as number;
  const barePid = bare.pid;
  if (barePid === undefined) throw new Error('B6: the bare node process did not start');
  const rssAtStartMB = round(rssMB(pid), 1);
  const series: number[] = [];
  const sampler = setInterval(() => {
    try {
      series.push(round(rssMB(pid), 1));
    } catch {
      // Gone: reported at the end.
    }
  }, 1000);
  sampler.unref();
  const reading = new Promise<
    | {
        rss: number;
        bare: number;
        anon: number;
        file: number;
        bareAnon: number;
        bareFile: number;
        mappings: RssByMapping;
        bareMappings: RssByMapping;
      }
    | Error
  >((resolve) => {
    setTimeout(() => {
      clearInterval(sampler);
      try {
        if (!node.running) throw new Error(`B6: the idle node exited: ${node.stderr.slice(-2000)}`);
        resolve({
          rss: round(rssMB(pid), 1),
          bare: round(rssMB(barePid), 1),
          anon: round(statusMB(pid, 'RssAnon'), 1),
          file: round(statusMB(pid, 'RssFile'), 1),
          bareAnon: round(statusMB(barePid, 'RssAnon'), 1),
          bareFile: round(statusMB(barePid, 'RssFile'), 1),
          mappings: rounded(rssByMapping(pid)),
          bareMappings: rounded(rssByMapping(barePid)),
        });
      } catch (err) {
        resolve(err as Error);
      }
    }, idleSeconds * 1000);
  });
  return async () => {
    const r = await reading;
    bare.kill('SIGKILL');
    await env.stopNodes(node);
    if (r instanceof Error) throw r;
    return {
      idleSeconds,
      rssAtStartMB,
      rssMB: r.rss,
      anonMB: r.anon,
      fileMB: r.file,
      bareAnonMB: r.bareAnon,
      bareFileMB: r.bareFile,
      mappings: r.mappings,
      bareMappings: r.bareMappings,
      bareNodeRssMB: r.bare,
      series,
    };
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
