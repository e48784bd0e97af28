import { cliCommand } from './cli-command.js';
import { cliCommandCont } from './cli-command-cont.js';
import { copyFileFrom } from './copy-file-from.js';
import { copyFileTo } from './copy-file-to.js';
import { errorLog } from './error-log.js';
import { hello } from './hello.js';
import { keyRotate } from './key-rotate.js';
import { httpGet } from './http-get.js';
import type { MethodHandler } from './method.js';
import { none } from './none.js';
import { opProcessList, opProcessStart, opProcessStop } from './op-process.js';
import { ping, pong } from './ping.js';
import { relayInitialMethod, relayMethod } from './relay.js';
import { tailFile } from './tail-file.js';
import { toConsole } from './to-console.js';
import { toFile } from './to-file.js';
import { toFileAppend } from './to-file-append.js';

/** Every method this build of steward knows. */
export const METHODS: readonly MethodHandler[] = [
  cliCommand,
  cliCommandCont,
  tailFile,
  hello,
  errorLog,
  ping,
  pong,
  toFile,
  toFileAppend,
  toConsole,
  httpGet,
  copyFileFrom,
  copyFileTo,
  relayInitialMethod,
  relayMethod,
  keyRotate,
  opProcessList,
  opProcessStart,
  opProcessStop,
  none,
];

const BY_NAME = new Map(METHODS.map((m) => [m.name, m]));

export function methodByName(name: string): MethodHandler | undefined {
  return BY_NAME.get(name);
}

export const METHOD_NAMES: readonly string[] = METHODS.map((m) => m.name);
