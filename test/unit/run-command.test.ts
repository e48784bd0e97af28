import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { runCommand } from '../../src/methods/run-command.js';
import type { SpawnEvents, Spawner } from '../../src/spawn/spawner.js';

/** A spawner whose command's events the test plays, in the order a busy helper may send them. */
function playedSpawner(play: (ev: SpawnEvents) => void): Spawner {
  return {
    spawn: (_req: unknown, events: SpawnEvents) => {
      play(events);
      return { close: () => undefined };
    },
  } as unknown as Spawner;
}

const opts = () => ({ signal: new AbortController().signal, maxOutputBytes: 1 << 20 });

describe('runCommand', () => {
  it('keeps output that arrives after the exit when no process of the group is left', async () => {
    const spawner = playedSpawner((ev) => {
      ev.exit(0, null);
      // Late by far more than the drain moment: a starved node reads the pipes late.
      setTimeout(() => {
        ev.output(Buffer.from('reply-169\n'), 'stdout');
        ev.end('stdout');
        ev.end('stderr');
      }, 900);
    });
    const r = await runCommand(spawner, ['echo', 'reply-169'], opts());
    assert.equal(r.stdout, 'reply-169\n');
    assert.equal(r.code, 0);
  });

  it('does not wait for pipes that background children of the group keep open', async () => {
    const bg = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      const spawner = playedSpawner((ev) => {
        ev.pid(bg.pid as number);
        ev.output(Buffer.from('before exit\n'), 'stdout');
        ev.exit(0, null);
        // No end: `sleep 30 &` holds the pipes.
      });
      const r = await runCommand(spawner, ['bash', '-c', 'echo before exit; sleep 30 &'], opts());
      assert.equal(r.stdout, 'before exit\n');
    } finally {
      bg.kill('SIGKILL');
    }
  });
});
