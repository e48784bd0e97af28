import { cliCommand } from './cli-command.js';
import { errorLog } from './error-log.js';
import { hello } from './hello.js';
import type { MethodHandler } from './method.js';
import { none } from './none.js';
import { ping, pong } from './ping.js';
import { toConsole } from './to-console.js';
import { toFile } from './to-file.js';
import { toFileAppend } from './to-file-append.js';

/** Every method this build of steward knows. */
export const METHODS: readonly MethodHandler[] = [
  cliCommand,
  hello,
  errorLog,
  ping,
  pong,
  toFile,
  toFileAppend,
  toConsole,
  none,
];

const BY_NAME = new Map(METHODS.map((m) => [m.name, m]));

export function methodByName(name: string): MethodHandler | undefined {
  return BY_NAME.get(name);
}

export const METHOD_NAMES: readonly string[] = METHODS.map((m) => m.name);
