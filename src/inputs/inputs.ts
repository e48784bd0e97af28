import type { Logger } from 'pino';
import { tokenMatches } from '../config/token.js';
import type { ResolvedConfig } from '../config/load.js';
import type { AcceptInput } from './accept.js';
import { FolderInput } from './folder.js';
import { HttpInput } from './http.js';
import { TcpInput } from './tcp.js';

/** An input with a lifecycle. */
export interface Input {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The optional inputs the configuration turns on (`tcpListener`, `httpListener`, `readFolder`),
 * each handing its bytes to `accept`. The unix socket is always on and built by main.
 */
export function optionalInputs(cfg: ResolvedConfig, accept: AcceptInput, logger: Logger, token: string): Input[] {
  const inputs: Input[] = [];
  // -inputAuth=none: nothing is asked of TCP and HTTP clients (main warns at every start).
  const check = cfg.inputAuth === 'none' ? undefined : (given: string): boolean => tokenMatches(token, given);
  if (cfg.tcpAddress !== undefined) {
    inputs.push(new TcpInput(cfg.tcpAddress, { accept, logger: logger.child({ component: 'tcp' }) }, { tls: cfg.tcpTls, token: check }));
  }
  if (cfg.httpAddress !== undefined)
    inputs.push(new HttpInput(cfg.httpAddress, { accept, logger: logger.child({ component: 'http' }), token: check }));
  if (cfg.readFolder !== undefined) inputs.push(new FolderInput(cfg.readFolder, { accept, logger: logger.child({ component: 'folder' }) }));
  return inputs;
}

/** Starts every input; when one fails, stops those already started and rethrows. */
export async function startAll(inputs: readonly Input[]): Promise<void> {
  const started: Input[] = [];
  try {
    for (const i of inputs) {
      await i.start();
      started.push(i);
    }
  } catch (err) {
    await Promise.allSettled(started.map((i) => i.stop()));
    throw err;
  }
}
