import fs from 'node:fs';

/** The parent pid and command line of a process; undefined once it is gone. */
function procInfo(pid: number): { ppid: number; cmdline: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: fields follow the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return { ppid, cmdline: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') };
  } catch {
    return undefined;
  }
}

/** Pids of the children of `parent` whose command line holds `match` (any, without it). */
export function childrenOf(parent: number | undefined, match = ''): number[] {
  if (parent === undefined) return [];
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = procInfo(Number(name));
    if (info?.ppid === parent && info.cmdline.includes(match)) out.push(Number(name));
  }
  return out;
}

/**
 * Pids of every process whose command line holds `match`: e.g. the commands of a burst that
 * still run, wherever they were forked (a command outlives a helper killed under it).
 */
export function processesWith(match: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    if (procInfo(Number(name))?.cmdline.includes(match) === true) out.push(Number(name));
  }
  return out;
}

/** Pids of the spawn helpers (src/spawn/helper-main.ts) that the steward process `parent` runs now. */
export function spawnHelpersOf(parent: number | undefined): number[] {
  return childrenOf(parent, 'helper-main.js');
}

/** True while `pid` exists (a zombie counts). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
