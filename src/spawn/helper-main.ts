/**
 * The spawn helper: a small process a node starts to run commands for it (src/spawn/spawner.ts).
 * Forking costs time in proportion to the memory of the process that forks, and it blocks that
 * process's event loop; forked from here, a lean process on its own core, commands start faster
 * and the node's event loop stays free for messages.
 *
 * It reads spawn requests on stdin and writes what happens to each command on stdout (frames,
 * src/spawn/frames.ts). Each command runs in its own process group, as when the node forks it
 * itself; the node signals the group by pid. When stdin ends (the node stopped, or was killed)
 * the helper exits; commands still running go on in their own groups, as they would have if the
 * node itself had been killed.
 *
 * An entry point: it does its work on import. It imports nothing but Node's own modules and the
 * framing, so it stays about as small as a bare node process.
 */
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { capped, startCommand } from './command.js';
import { encodeFrame, FRAME, FrameReader, type FrameType, type SpawnRequest } from './frames.js';

interface Job {
  readonly child: ChildProcess;
  readonly streams: Readable[];
}

const jobs = new Map<number, Job>();
/** The environment commands get: copied once (reading process.env costs on every spawn). */
const baseEnv: NodeJS.ProcessEnv = { ...process.env };
let outgoing: Buffer[] = [];
let flushScheduled = false;
let blocked = false;

/** Frames are written once per event-loop turn, in one write. */
function send(type: FrameType, id: number, payload?: Uint8Array | string): void {
  outgoing.push(encodeFrame(type, id, payload));
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

function flush(): void {
  flushScheduled = false;
  const frames = outgoing;
  outgoing = [];
  if (frames.length === 0) return;
  if (!process.stdout.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames)) && !blocked) {
    // The node reads slower than the commands write: stop reading their pipes until it catches up.
    blocked = true;
    for (const job of jobs.values()) for (const s of job.streams) s.pause();
    process.stdout.once('drain', () => {
      blocked = false;
      for (const job of jobs.values()) for (const s of job.streams) s.resume();
    });
  }
}

function forward(id: number, stream: Readable, type: typeof FRAME.stdout | typeof FRAME.stderr, cap: number): void {
  const pass = capped(cap);
  stream.on('data', (b: Buffer) => {
    const part = pass(b);
    if (part !== undefined) send(type, id, part);
  });
  stream.on('end', () => send(FRAME.end, id, Buffer.of(type === FRAME.stdout ? 0 : 1)));
  stream.on('error', () => undefined);
  if (blocked) stream.pause();
}

function run(id: number, req: SpawnRequest): void {
  let child: ChildProcess;
  try {
    child = startCommand(req, baseEnv);
  } catch (err) {
    send(FRAME.error, id, (err as Error).message);
    return;
  }
  const stdout = child.stdout as Readable;
  const stderr = child.stderr as Readable;
  jobs.set(id, { child, streams: [stdout, stderr] });
  child.once('spawn', () => send(FRAME.pid, id, JSON.stringify({ pid: child.pid })));
  child.once('error', (err) => {
    send(FRAME.error, id, err.message);
    jobs.delete(id);
  });
  forward(id, stdout, FRAME.stdout, req.stdoutCap);
  forward(id, stderr, FRAME.stderr, req.stderrCap);
  child.once('exit', (code, signal) => send(FRAME.exit, id, JSON.stringify({ code, signal })));
  child.once('close', () => jobs.delete(id));
}

function close(id: number): void {
  const job = jobs.get(id);
  if (job === undefined) return;
  jobs.delete(id);
  for (const s of job.streams) s.destroy();
}

const reader = new FrameReader((type, id, payload) => {
  if (type === FRAME.spawn) {
    let req: SpawnRequest;
    try {
      req = JSON.parse(payload.toString('utf8')) as SpawnRequest;
    } catch (err) {
      send(FRAME.error, id, `bad spawn request: ${(err as Error).message}`);
      return;
    }
    run(id, req);
  } else if (type === FRAME.close) close(id);
});

process.stdin.on('data', (b: Buffer) => reader.push(b));
process.stdin.on('end', () => {
  flush();
  process.exit(0);
});
process.stdout.on('error', () => process.exit(0));
