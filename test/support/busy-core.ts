import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Keeps one core busy while a test runs (a child `node -e "for(;;){}"`), so the test sees the
 * scheduling a loaded machine gives: a test that only passes on an idle machine fails here.
 * Stop it in `after`; stop() is safe to call twice.
 */
export class BusyCore {
  private constructor(private readonly proc: ChildProcess) {}

  static start(): BusyCore {
    const proc = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
    return new BusyCore(proc);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
}
