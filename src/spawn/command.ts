import { spawn, type ChildProcess } from 'node:child_process';
import type { SpawnRequest } from './frames.js';

/**
 * Forks a command as steward runs every command: in a process group of its own (so a timeout
 * can end it and all it started), stdin closed, stdout and stderr piped, with `baseEnv` plus the
 * request's variables. Used by the spawner (forking in the node) and by the spawn helper; it
 * imports nothing heavy, so the helper stays small.
 */
export function startCommand(req: SpawnRequest, baseEnv: NodeJS.ProcessEnv): ChildProcess {
  return spawn(req.cmd, [...req.args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: req.env === undefined ? baseEnv : { ...baseEnv, ...req.env },
  });
}

/**
 * The part of each chunk of a stream to pass on, so at most `cap` bytes and one more are passed
 * (the one more says there was more); -1: everything. What is not passed on is read and dropped.
 */
export function capped(cap: number): (chunk: Buffer) => Buffer | undefined {
  if (cap < 0) return (chunk) => chunk;
  let passed = 0;
  return (chunk) => {
    if (passed > cap) return undefined;
    const part = passed + chunk.length > cap + 1 ? chunk.subarray(0, cap + 1 - passed) : chunk;
    passed += part.length;
    return part;
  };
}
