/**
 * The input fuzzer (issue 5): feeds a real central and a real target node (each with its unix
 * socket, TCP and HTTP listeners and a watched folder on) with random, mutated and hostile
 * inputs on every path, including raw payloads published on the target's NATS subjects, with
 * known-good canary messages in between and around the bad ones. Then it checks that both
 * daemons stayed up, that every input got its answer, that every canary was delivered exactly
 * once, and that nothing was written outside the nodes' own folders.
 *
 *   npm run test:fuzz -- --count 3000 [--seed S] [--concurrency 12] [--only 17,42] [--keep]
 *
 * See docs/fuzzing.md.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NatsServer } from '../support/nats-server.js';
import { freePorts } from '../support/ports.js';
import { canaryMessage, makeCase, PATHS, type Canary, type Case, type CaseOptions, type Path, type TextCase } from './cases.js';
import type { FuzzContext } from './corpus.js';
import { diffSnapshots, findMarker, FuzzNode, NODE_FOLDERS, scanLog, snapshot, staleBuild, tail, type LogScan } from './harness.js';
import { Rng } from './rng.js';
import {
  delay,
  dropFile,
  folderState,
  refusalOf,
  sendHttp,
  sendNats,
  sendStream,
  tokenLine,
  type FolderState,
  type Outcome,
} from './send.js';
import { introduce, WireProver } from './proofs.js';
import { printReport, type PathStats, type Report } from './report.js';

const { values: opt } = parseArgs({
  options: {
    count: { type: 'string', default: '3000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '12' },
    only: { type: 'string' },
    timeout: { type: 'string', default: '30000' },
    'big-rate': { type: 'string' },
    'max-minutes': { type: 'string' },
    keep: { type: 'boolean', default: false },
    json: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

const seed = opt.seed !== undefined ? Number(opt.seed) : Math.floor(Math.random() * 2 ** 31);
const count = Number(opt.count);
const concurrency = Number(opt.concurrency);
const timeoutMs = Number(opt.timeout);
const only = opt.only?.split(',').map(Number);
// Big inputs (megabytes, 100,000 levels of nesting) cost the nodes seconds each: a quarter of
// the long run's rate in short runs, so that the CI run of 3,000 inputs stays within a minute.
const bigRate = opt['big-rate'] !== undefined ? Number(opt['big-rate']) : count >= 20_000 ? 1 : 0.25;
if (
  !(bigRate >= 0) ||
  !Number.isInteger(seed) ||
  !Number.isInteger(count) ||
  count < 1 ||
  !Number.isInteger(concurrency) ||
  concurrency < 1 ||
  (only ?? []).some((n) => !Number.isInteger(n))
) {
  process.stderr.write(
    'usage: fuzz.ts [--count N] [--seed S] [--concurrency C] [--only i,j] [--timeout ms] [--big-rate R] [--max-minutes M] [--keep] [--json file] [--verbose]\n',
  );
  process.exit(2);
}
const indices = only ?? Array.from({ length: count }, (_, i) => i);
/** Sending stops after this long (or at the first Ctrl-C); the checks then run on what was sent. */
const maxMs = opt['max-minutes'] !== undefined ? Number(opt['max-minutes']) * 60_000 : Infinity;
let stopRequested = false;
process.once('SIGINT', () => {
  stopRequested = true;
  log('stopping after the inputs in flight (Ctrl-C again to quit at once)');
  process.once('SIGINT', () => process.exit(130));
});
const EMPTY = Buffer.alloc(0);
const log = (s: string): void => void process.stderr.write(`[fuzz] ${s}\n`);

interface Sent {
  /** The case, without its bytes once sent (a long run would otherwise keep gigabytes). */
  c: Case;
  outcome?: Outcome;
  folderName?: string;
  folderState?: FolderState;
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const stale = staleBuild();
  if (stale !== undefined) log(`WARNING: ${stale}`);
  log(
    `seed ${seed}, ${indices.length} inputs, concurrency ${concurrency}, big-input rate ${bigRate}  (the same run again: npm run test:fuzz -- --seed ${seed} --count ${count} --big-rate ${bigRate})`,
  );
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'steward-fuzz-'));
  const logDir = path.join(root, 'logs');
  const outDir = path.join(root, 'out');
  fs.mkdirSync(logDir);
  fs.mkdirSync(outDir);
  // Deep enough that `..` climbs several levels before it could leave the sandbox.
  const base = path.join(root, 'nodes', 'a', 'b');
  const idRng = new Rng(seed, -1);
  // In one call: ports picked one after another can come out the same (a node then cannot listen).
  const [closedPort, centralTcp, centralHttp, targetTcp, targetHttp] = (await freePorts(5)) as [number, number, number, number, number];
  const ctx: FuzzContext = {
    central: 'central',
    target: 'target',
    ghost: 'ghost',
    canaryDir: `canary-${idRng.hex(12)}`,
    cliCanaryDir: `canarycli-${idRng.hex(12)}`,
    escapeMarker: `fuzz-escape-${seed}`,
    absEscape: path.join(root, 'abs-escape'),
    closedPort,
    missingFile: path.join(root, 'missing', 'none.log'),
    bigRate,
    nowMs: Date.now(),
  };
  for (const s of findMarker(['/tmp', '/dev/shm', os.tmpdir()], ctx.escapeMarker)) fs.rmSync(s, { recursive: true, force: true }); // left by an earlier run of this seed

  const nats = await NatsServer.start();
  const common = [
    '-centralNodeName=central',
    `-brokerAddress=127.0.0.1:${nats.port}`,
    '-natsConnectRetryInterval=1',
    '-startPubREQHello=5',
    '-defaultMessageTimeout=3',
  ];
  const nodes = {
    central: new FuzzNode('central', path.join(base, 'central'), logDir, centralTcp, centralHttp, [...common, '-startSubREQRelay=true']),
    target: new FuzzNode('target', path.join(base, 'target'), logDir, targetTcp, targetHttp, common),
  };
  await Promise.all([nodes.central.start(), nodes.target.start()]);
  const allowed = new Set<string>([logDir, outDir, ...Object.values(nodes).flatMap((n) => NODE_FOLDERS.map((f) => path.join(n.dir, f)))]);
  const before = snapshot(root, allowed);
  const nc: NatsConnection = await connect({ servers: nats.url, name: 'fuzzer' });
  const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
  // The fuzzer holds the nodes' keys (as a thief of them would) and proves most NATS inputs as one of them.
  const prover = new WireProver(seed, ctx.central, { [ctx.central]: nodes.central.dir, [ctx.target]: nodes.target.dir });
  await introduce(nc, prover, ctx, timeoutMs);
  log(
    `sandbox ${root}; nats ${nats.url}; central pid ${nodes.central.pid}, target pid ${nodes.target.pid}; broker max payload ${maxPayload}`,
  );

  let bomb: Buffer | undefined;
  const caseOpts: CaseOptions = {
    seed,
    ctx,
    maxPayload,
    oversize: new Set(count >= 20_000 ? [Math.floor(count / 3), Math.floor(count / 3) + 1, Math.floor(count / 3) + 2] : []),
    // 300 gzip members of 1 MiB of zeros each: 300 MiB once inflated, a few hundred KiB on the wire.
    gzipBomb: () => (bomb ??= Buffer.concat(Array.from({ length: 300 }, () => gzipSync(Buffer.alloc(1024 * 1024), { level: 9 })))),
  };

  const stats = new Map<Path, PathStats>(
    PATHS.map((p) => [
      p,
      { inputs: 0, answered: 0, accepted: 0, rejected: 0, unanswered: 0, unpromised: 0, latencies: [], labels: new Map() },
    ]),
  );
  const violations: { index: number; path: Path; gen: string; text: string }[] = [];
  const notes = new Map<string, number>();
  /** NATS outcomes by how the input was proven. */
  const proofs = new Map<string, Map<string, number>>();
  const sent: Sent[] = [];
  const inFlight = new Set<number>();
  const folderPending = new Map<string, Sent>();
  let crashed: string | undefined;
  let done = 0;
  let savedRepros = 0;

  const violation = (s: Sent, text: string): void => {
    violations.push({ index: s.c.index, path: s.c.path, gen: s.c.gen, text });
    // The bytes are made again from the seed (a case keeps none once sent).
    if (savedRepros++ < 50) saveRepro(outDir, makeCase(s.c.index, caseOpts), text);
    if (opt.verbose || only !== undefined) log(`VIOLATION input ${s.c.index} (${s.c.path} ${s.c.gen}): ${text}`);
  };

  const monitor = setInterval(() => {
    for (const n of Object.values(nodes)) {
      if (!n.running && crashed === undefined) {
        crashed = `${n.name} exited ${JSON.stringify(n.exit)} with inputs ${[...inFlight].join(',')} in flight; its stderr ends: ${tail(n.stderrFile, 1500)}`;
        log(`CRASH: ${crashed}`);
      }
    }
    // Folder answers: a file is gone (accepted) or moved aside next to its .error file.
    for (const [name, s] of folderPending) {
      const node = nodes[(s.c as TextCase).node];
      const st = folderState(node.inbox, name);
      if (st === 'pending') continue;
      folderPending.delete(name);
      s.folderState = st;
    }
  }, 250);
  const progress = setInterval(
    () => log(`${done}/${indices.length} inputs, ${Math.round(done / ((Date.now() - t0) / 1000))}/s, folder backlog ${folderPending.size}`),
    10_000,
  );

  const runOne = async (index: number): Promise<void> => {
    const c = makeCase(index, caseOpts);
    if (c.path !== 'nats' && c.remade !== undefined) {
      const key = `made again: its first try would have been harmful (${c.remade.replace(/".*"/, '"..."')})`;
      notes.set(key, (notes.get(key) ?? 0) + 1);
    }
    const s: Sent = { c };
    sent.push(s);
    const st = stats.get(c.path) as PathStats;
    st.inputs++;
    const started = Date.now();
    let o: Outcome;
    if (c.path === 'nats') {
      o = await sendNats(nc, c, timeoutMs, prover);
      const byProof = proofs.get(c.proof) ?? new Map<string, number>();
      byProof.set(o.label, (byProof.get(o.label) ?? 0) + 1);
      proofs.set(c.proof, byProof);
    } else {
      const node = nodes[c.node];
      if (c.path === 'socket') o = await sendStream(() => net.connect(node.socketPath), c, seed, timeoutMs);
      else if (c.path === 'tcp')
        o = await sendStream(() => net.connect(node.tcpPort, '127.0.0.1'), c, seed, timeoutMs, tokenLine(c, node.token));
      else if (c.path === 'http') o = await sendHttp(node.httpPort, c, timeoutMs, node.token);
      else {
        while (folderPending.size >= 200 && crashed === undefined) await delay(50);
        const d = dropFile(node.inbox, c);
        if ('skipped' in d)
          o = {
            answered: true,
            unpromised: true,
            accepted: 0,
            errors: 0,
            label: 'not-written',
            note: `cannot write the file: ${d.skipped}`,
          };
        else {
          s.folderName = d.name;
          folderPending.set(d.name, s);
          o = { answered: false, accepted: 0, errors: 0, label: 'dropped' };
        }
      }
    }
    s.outcome = o;
    s.c = c.path === 'nats' ? { ...c, payload: EMPTY } : { ...c, body: EMPTY };
    if (c.path !== 'folder' || o.unpromised) {
      st.latencies.push(Date.now() - started);
      tallyOutcome(st, o);
      if (o.violation !== undefined) violation(s, o.violation);
    }
    if (o.note !== undefined) notes.set(`${c.path}: ${o.note.slice(0, 150)}`, (notes.get(`${c.path}: ${o.note.slice(0, 150)}`) ?? 0) + 1);
    if (c.path !== 'nats' && c.firstIsCanary && strictInput(c, o) && c.path !== 'folder' && !o.firstAccepted && o.answered) {
      violation(s, `the canary at index 0, before the fuzzed element, was not accepted (answer: ${o.label})`);
    }
    done++;
  };

  const queue = [...indices];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (queue.length > 0 && crashed === undefined && !stopRequested && Date.now() - t0 < maxMs) {
        const index = queue.shift() as number;
        inFlight.add(index);
        try {
          await runOne(index);
        } catch (err) {
          log(`fuzzer error on input ${index}: ${(err as Error).stack ?? String(err)}`);
          violations.push({ index, path: 'socket', gen: 'fuzzer-error', text: `the fuzzer itself failed: ${(err as Error).message}` });
        } finally {
          inFlight.delete(index);
        }
      }
    }),
  );
  const sendEnd = Date.now();
  log(`all inputs sent in ${((sendEnd - t0) / 1000).toFixed(1)} s; waiting for the folder and the canaries`);

  // Folder files still there: give the watcher time (it looks every 0.5 s, a file needs two looks).
  while (folderPending.size > 0 && Date.now() - sendEnd < 60_000 && crashed === undefined) await delay(250);
  for (const s of sent) {
    if (s.c.path !== 'folder' || s.outcome?.unpromised) continue;
    const st = stats.get('folder') as PathStats;
    const state = s.folderState ?? 'pending';
    const o: Outcome =
      state === 'removed'
        ? { answered: true, accepted: 1, errors: 0, label: 'removed' }
        : state === 'failed'
          ? { answered: true, accepted: 0, errors: 1, label: 'moved to failed/' }
          : {
              answered: false,
              accepted: 0,
              errors: 0,
              label: state,
              violation:
                state === 'pending'
                  ? `file ${JSON.stringify(s.folderName)} never handled: still in the watched folder`
                  : `file ${JSON.stringify(s.folderName)} moved aside without its .error file`,
            };
    s.outcome = o;
    tallyOutcome(st, o);
    if (o.violation !== undefined) violation(s, o.violation);
    if (s.c.firstIsCanary && state === 'failed') violation(s, 'a file starting with a good message was moved to failed/');
  }

  // Canaries: every strict one delivered exactly once, the others at most once.
  const canaries: { k: Canary; s: Sent; strict: boolean }[] = [];
  for (const s of sent) {
    const ks = s.c.path === 'nats' ? (s.c.canary === undefined ? [] : [s.c.canary]) : s.c.canaries;
    for (const k of ks) canaries.push({ k, s, strict: k.strict && s.outcome !== undefined && strictInput(s.c, s.outcome) });
  }
  // A last canary through the socket of each node, after everything: both still serve.
  const finalTags: string[] = [];
  for (const role of ['central', 'target'] as const) {
    if (!nodes[role].running) continue;
    const k: Canary = { tag: `CANARY-${seed}-final-${role}`, kind: 'append', strict: true, via: role };
    const o = await sendStream(
      () => net.connect(nodes[role].socketPath),
      {
        path: 'socket',
        index: -1,
        node: role,
        gen: 'final',
        body: Buffer.from(JSON.stringify(canaryMessage(ctx, k))),
        repeat: 1,
        framing: 'halfclose',
        canaries: [k],
        firstIsCanary: true,
        control: false,
      },
      seed,
      timeoutMs,
    );
    if (o.accepted !== 1)
      violations.push({
        index: -1,
        path: 'socket',
        gen: 'final',
        text: `the final canary on ${role} was not accepted: ${o.label} ${o.violation ?? ''}`,
      });
    finalTags.push(k.tag);
  }
  const strictTags = new Set([...canaries.filter((x) => x.strict).map((x) => x.k.tag), ...finalTags]);
  const readCounts = (): Map<string, number> => {
    const counts = new Map<string, number>();
    const files = [
      path.join(nodes.target.dataDir, ctx.canaryDir, ctx.target, 'lines.txt'),
      ...Object.values(nodes).map((n) => path.join(n.dataDir, ctx.cliCanaryDir, ctx.target, 'lines.txt')),
    ];
    for (const f of files) {
      let text: string;
      try {
        text = fs.readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      for (const l of text.split('\n')) if (l !== '') counts.set(l, (counts.get(l) ?? 0) + 1);
    }
    return counts;
  };
  let counts = readCounts();
  const canaryDeadline = Date.now() + (indices.length > 20_000 ? 180_000 : 60_000);
  while ([...strictTags].some((t) => (counts.get(t) ?? 0) < 1) && Date.now() < canaryDeadline && crashed === undefined) {
    await delay(500);
    counts = readCounts();
  }
  await delay(1500); // a late duplicate would show now
  counts = readCounts();
  const canaryStats = { strict: 0, strictOnce: 0, missing: [] as string[], duplicated: [] as string[], loose: 0, looseDelivered: 0 };
  for (const { k, s, strict } of [
    ...canaries,
    ...finalTags.map((tag) => ({ k: { tag, kind: 'append' as const, strict: true, via: 'central' as const }, s: undefined, strict: true })),
  ]) {
    const n = counts.get(k.tag) ?? 0;
    if (strict) {
      canaryStats.strict++;
      if (n === 1) canaryStats.strictOnce++;
      else if (n === 0) canaryStats.missing.push(k.tag);
    } else {
      canaryStats.loose++;
      if (n === 1) canaryStats.looseDelivered++;
    }
    if (n > 1) canaryStats.duplicated.push(`${k.tag} x${n}`);
    if (s !== undefined && (n > 1 || (strict && n === 0))) violation(s, `canary ${k.tag} (${k.kind}) delivered ${n} times`);
  }
  for (const t of finalTags)
    if ((counts.get(t) ?? 0) !== 1)
      violations.push({ index: -1, path: 'socket', gen: 'final', text: `final canary ${t} delivered ${counts.get(t) ?? 0} times` });

  clearInterval(monitor);
  clearInterval(progress);
  const alive = { central: nodes.central.running, target: nodes.target.running };

  // Nothing written outside the nodes' own folders.
  const outside = diffSnapshots(before, snapshot(root, allowed));
  const escaped = findMarker(['/tmp', '/dev/shm', os.tmpdir(), os.homedir(), '/'], ctx.escapeMarker);
  for (const p of [...outside, ...escaped.map((e) => `escaped: ${e}`)])
    violations.push({ index: -1, path: 'socket', gen: 'sandbox', text: `written outside the data folders: ${p}` });
  for (const e of escaped) fs.rmSync(e, { recursive: true, force: true }); // reported; ours (the name holds the run's marker)

  const cpu = {
    central: nodes.central.cpuSeconds(),
    target: nodes.target.cpuSeconds(),
    fuzzer: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
  };
  await nc.close();
  const stopMs = { central: await nodes.central.stop(), target: await nodes.target.stop() };
  for (const [n, ms] of Object.entries(stopMs))
    if (ms === undefined) violations.push({ index: -1, path: 'socket', gen: 'stop', text: `${n} did not stop within 15 s of SIGTERM` });
  await nats.close();
  const logs: Record<string, LogScan> = {
    central: await scanLog(nodes.central.stderrFile),
    target: await scanLog(nodes.target.stderrFile),
  };
  if (crashed !== undefined) violations.push({ index: -1, path: 'socket', gen: 'crash', text: crashed });

  const report: Report = {
    date: new Date().toISOString(),
    seed,
    count: indices.length,
    done,
    concurrency,
    seconds: (Date.now() - t0) / 1000,
    sendSeconds: (sendEnd - t0) / 1000,
    stats,
    canaries: canaryStats,
    alive,
    crashed,
    stopMs,
    outside: outside.length + escaped.length,
    violations,
    notes,
    logs,
    sandbox: root,
    gens: genTable(sent),
    proofs,
    replay: replayCommand,
    cpu,
  };
  printReport(report);
  if (opt.json !== undefined)
    fs.writeFileSync(
      opt.json,
      JSON.stringify(report, (_k, v: unknown): unknown => (v instanceof Map ? (Object.fromEntries(v) as unknown) : v), 2),
    );
  const failed = violations.length > 0;
  if (failed || opt.keep) log(`kept the sandbox for inspection: ${root} (repro inputs in ${outDir})`);
  else fs.rmSync(root, { recursive: true, force: true });
  return failed ? 1 : 0;
}

/** Whether the input reached the daemon whole, so its canaries must be delivered. */
function strictInput(c: Case, o: Outcome): boolean {
  if (c.path === 'nats') return o.label === 'ack ok' || o.label === 'ack duplicate';
  if (o.unpromised) return false;
  if (c.path === 'socket' || c.path === 'tcp') return c.framing !== 'abort' && !c.control;
  if (c.path === 'http')
    return (
      c.http !== undefined &&
      c.http.raw === undefined &&
      c.http.method.toUpperCase() === 'POST' &&
      c.http.headers['content-length'] === undefined &&
      refusalOf(c) === undefined
    );
  return true;
}

function tallyOutcome(st: PathStats, o: Outcome): void {
  if (o.unpromised) st.unpromised++;
  else if (o.answered) st.answered++;
  else st.unanswered++;
  if (o.accepted > 0) st.accepted++;
  else if (o.answered && !o.unpromised) st.rejected++;
  st.labels.set(o.label, (st.labels.get(o.label) ?? 0) + 1);
}

function genTable(sent: Sent[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of sent) {
    const g = `${s.c.path}:${s.c.gen.split(/[/:]/)[0] ?? s.c.gen}`;
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m;
}

/** The command that makes input `index` again, byte for byte (its generator depends on the count and the big-input rate). */
function replayCommand(index: number): string {
  return `npm run test:fuzz -- --seed ${seed} --count ${count} --big-rate ${bigRate} --only ${index}`;
}

function saveRepro(outDir: string, c: Case, text: string): void {
  const file = path.join(outDir, `input-${c.index}`);
  const { body: _b, payload: _p, ...meta } = c as Case & { body?: Buffer; payload?: Buffer };
  fs.writeFileSync(
    `${file}.json`,
    JSON.stringify(
      { violation: text, replay: replayCommand(c.index), ...meta },
      (_k, v: unknown) =>
        v instanceof Buffer || (v !== null && typeof v === 'object' && (v as { type?: string }).type === 'Buffer') ? '<bytes>' : v,
      2,
    ),
  );
  const bytes = 'body' in c ? c.body : c.payload;
  fs.writeFileSync(`${file}.bin`, bytes);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`fuzzer failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(2);
  },
);
