import { spawn } from 'node:child_process';
import { STEWARD_BIN } from './steward.js';

/** An operator command (`steward send|nodes|queue|status|cancel|keys|...`) running as a user runs it. */
export interface CliRun {
  /** Its exit: the code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  kill(sig: NodeJS.Signals): void;
}

/**
 * Runs `bin/steward <args>` in `cwd` (a node's folder, where it finds the node's socket). Its
 * output is decoded as UTF-8 streams, so a character split across two reads is kept whole.
 */
export function runCli(args: string[], cwd: string, env: Record<string, string> = {}): CliRun {
  const p = spawn(STEWARD_BIN, args, {
    cwd,
    env: { ...process.env, CONFIG_FOLDER: './etc/', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  p.stdout.setEncoding('utf8');
  p.stderr.setEncoding('utf8');
  p.stdout.on('data', (s: string) => (out += s));
  p.stderr.on('data', (s: string) => (err += s));
  // 'close', not 'exit': the output is complete once the pipes are closed.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    p.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { exited, stdout: () => out, stderr: () => err, kill: (sig) => p.kill(sig) };
}

/** Runs an operator command to its end: its exit code and what it printed. */
export async function cli(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = runCli(args, cwd, env);
  const { code } = await r.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr() };
}

/** `steward keys|policy|token ...` in a node's folder: the same as {@link cli}. */
export const stewardCli = cli;
