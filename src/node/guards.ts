import fs from 'node:fs';
import type { Message } from '../message/message.js';
import { isReportSummary } from './error-reporter.js';
import type { OriginLimits } from './origin-limits.js';

/** The methods that write into the data folder (or, for copies, a copy destination). */
const WRITERS = new Set(['REQToFile', 'REQToFileAppend', 'REQCopyFileTo', 'REQErrorLog', 'REQHello', 'REQPing', 'REQPong']);

/**
 * Why a message that writes into the data folder is refused now: the file system holding it has
 * less free space than `minFreeBytes` (read at most once a second). Nothing already stored is
 * touched; the sender is told, and tells its central.
 */
export function roomGuard(dataFolder: string, minFreeBytes: number, nodeName: string): (msg: Message) => string | undefined {
  let checkedMs = 0;
  let free = Infinity;
  return (msg) => {
    if (minFreeBytes <= 0 || !WRITERS.has(msg.method)) return undefined;
    const now = Date.now();
    if (now - checkedMs >= 1000) {
      checkedMs = now;
      try {
        const st = fs.statfsSync(dataFolder);
        free = Number(st.bavail) * Number(st.bsize);
      } catch {
        free = Infinity; // no data folder yet: nothing to protect
      }
    }
    if (free >= minFreeBytes) return undefined;
    return `the data folder of ${nodeName} has ${Math.floor(free / 1024 / 1024)} MB free, less than -minFreeDiskMB=${Math.floor(minFreeBytes / 1024 / 1024)}: not written (nothing stored is lost; free some room)`;
  };
}

/**
 * Why a message from `from` is over what that node may cost this one: its error lines and hellos
 * per second, and, for a hello from a name not heard from before, the rate of new names. A
 * summary line (the count of the reports a node held back) has an allowance of its own.
 */
export function originGuard(limits: OriginLimits, known: (node: string) => boolean): (msg: Message, from: string) => string | undefined {
  return (msg, from) => {
    if (isReportSummary(msg)) {
      if (!limits.summaryLine(from)) return `over the limit of summary lines from ${from}: refused and counted`;
    } else if (msg.method === 'REQErrorLog' && !limits.errorLine(from))
      return `over the limit of error lines a second from ${from}: refused and counted`;
    if (msg.method === 'REQHello') {
      if (!limits.hello(from)) return `over the limit of hellos a second from ${from}: refused and counted`;
      if (!known(from) && !limits.newName()) return `too many new node names a minute: the hello of ${from} is refused for now`;
    }
    return undefined;
  };
}
