import { spawn } from 'node:child_process';
import { STEWARD_BIN } from './steward.js';

/** Runs an operator command (`steward keys ...`) as a user would, in the node's folder; resolves when it exits. */
export function stewardCli(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(STEWARD_BIN, args, {
      cwd,
      env: { ...process.env, CONFIG_FOLDER: './etc/', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
