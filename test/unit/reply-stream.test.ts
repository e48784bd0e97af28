import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { pino } from 'pino';
import { batchCapBytes, ReplyStream, STREAM_MAX_BATCH_BYTES, STREAM_WINDOW_MS } from '../../src/methods/reply-stream.js';

interface Sent {
  output: string;
  seq: number | undefined;
}

/** A fake method context that records the replies queued, in the order reply() was called. */
function recorder(reply?: (output: string, seq?: number) => Promise<void>): {
  sent: Sent[];
  ctx: ConstructorParameters<typeof ReplyStream>[0];
} {
  const sent: Sent[] = [];
  return {
    sent,
    ctx: {
      reply: async (output, seq) => {
        sent.push({ output, seq });
        await reply?.(output, seq);
      },
      logger: pino({ level: 'silent' }),
    },
  };
}

/** Lets the promise callbacks that queue replies run (setImmediate is not mocked). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const b = (s: string): Buffer => Buffer.from(s);
const outputs = (sent: Sent[]): string[] => sent.map((s) => s.output);

describe('ReplyStream', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('batches lines into one reply sent once the window after the first line has passed', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 1024 });
    stream.write(b('one\ntwo\n'));
    mock.timers.tick(STREAM_WINDOW_MS - 50);
    stream.write(b('three\n'));
    mock.timers.tick(49);
    await settle();
    assert.deepEqual(sent, []);
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(sent, [{ output: 'one\ntwo\nthree\n', seq: 0 }]);
    mock.timers.tick(10 * STREAM_WINDOW_MS);
    await settle();
    assert.equal(sent.length, 1);
  });

  it('uses the window it is given', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 1024, windowMs: 1_000 });
    stream.line('slow');
    mock.timers.tick(999);
    await settle();
    assert.equal(sent.length, 0);
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(outputs(sent), ['slow\n']);
  });

  it('sends a batch at once when it reaches the cap', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 10 });
    stream.write(b('abcd\nefgh\n'));
    await settle();
    assert.deepEqual(sent, [{ output: 'abcd\nefgh\n', seq: 0 }]);
  });

  it('sends the batch before a line that would take it over the cap', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 10 });
    stream.write(b('abcdef\nghij\n'));
    await settle();
    assert.deepEqual(outputs(sent), ['abcdef\n']);
    mock.timers.tick(STREAM_WINDOW_MS);
    await settle();
    assert.deepEqual(sent, [
      { output: 'abcdef\n', seq: 0 },
      { output: 'ghij\n', seq: 1 },
    ]);
  });

  it('holds a partial line until its newline comes', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 1024 });
    stream.write(b('hel'));
    mock.timers.tick(10 * STREAM_WINDOW_MS);
    await settle();
    assert.deepEqual(sent, []);
    stream.write(b('lo\nwor'));
    mock.timers.tick(STREAM_WINDOW_MS);
    await settle();
    assert.deepEqual(outputs(sent), ['hello\n']);
    await stream.end();
    assert.deepEqual(outputs(sent), ['hello\n', 'wor\n']);
  });

  it('joins a UTF-8 character split across two chunks', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 1024 });
    const bytes = b('café ✓\n');
    stream.write(bytes.subarray(0, 4));
    stream.write(bytes.subarray(4, 9));
    stream.write(bytes.subarray(9));
    await stream.end();
    assert.deepEqual(outputs(sent), ['café ✓\n']);
  });

  it('sends a partial line longer than the cap in pieces, without splitting a UTF-8 character', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 16 });
    stream.write(b('é'.repeat(20)));
    await stream.end();
    assert.deepEqual(outputs(sent), ['é'.repeat(7) + '\n', 'é'.repeat(7) + '\n', 'é'.repeat(6) + '\n']);
    for (const s of sent) assert.ok(Buffer.byteLength(s.output) <= 16, s.output);
  });

  it('keeps pieces of a long line with a prefix within the cap', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 16 });
    stream.write(b('✓'.repeat(10)), 'E: ');
    await stream.end();
    assert.deepEqual(outputs(sent), ['E: ✓✓✓✓\n', 'E: ✓✓✓✓\n', 'E: ✓✓\n']);
    for (const s of sent) assert.ok(Buffer.byteLength(s.output) <= 16, s.output);
  });

  it('sends a complete line longer than the cap in pieces too', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 16 });
    stream.write(b(`${'x'.repeat(40)}\n`));
    await stream.end();
    for (const s of sent) assert.ok(Buffer.byteLength(s.output) <= 16, `${Buffer.byteLength(s.output)} bytes`);
  });

  it('prefixes the lines of each source and keeps their partial lines apart', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 1024 });
    stream.write(b('out 1\npar'));
    stream.write(b('err 1\nhalf'), 'E: ');
    stream.write(b('tial\n'));
    stream.write(b(' done\n'), 'E: ');
    await stream.end();
    assert.deepEqual(outputs(sent), ['out 1\nE: err 1\npartial\nE: half done\n']);
  });

  it('ends with the held partial lines of every source, then the last line', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 1024 });
    stream.write(b('complete\nno newline'));
    stream.write(b('err tail'), 'E: ');
    await stream.end('[steward] exit 0');
    assert.deepEqual(sent, [{ output: 'complete\nno newline\nE: err tail\n[steward] exit 0\n', seq: 0 }]);
  });

  it('numbers the replies 0, 1, 2 in the order they are sent', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 1024 });
    for (const text of ['a', 'b', 'c']) {
      stream.line(text);
      mock.timers.tick(STREAM_WINDOW_MS);
    }
    await stream.end();
    assert.deepEqual(sent, [
      { output: 'a\n', seq: 0 },
      { output: 'b\n', seq: 1 },
      { output: 'c\n', seq: 2 },
    ]);
    assert.equal(stream.sent, 3);
  });

  it('does not queue a reply before the one before it is queued, and end() waits for all of them', async () => {
    let release!: () => void;
    const first = new Promise<void>((resolve) => (release = resolve));
    const { sent, ctx } = recorder((_output, seq) => (seq === 0 ? first : Promise.resolve()));
    const stream = new ReplyStream(ctx, { capBytes: 4 });
    stream.line('abc');
    stream.line('def');
    let ended = false;
    const ending = stream.end().then(() => (ended = true));
    await settle();
    assert.deepEqual(outputs(sent), ['abc\n']);
    assert.equal(ended, false);
    release();
    await ending;
    assert.deepEqual(sent, [
      { output: 'abc\n', seq: 0 },
      { output: 'def\n', seq: 1 },
    ]);
  });

  it('goes on with the next replies when one cannot be queued', async () => {
    const { sent, ctx } = recorder(async (_output, seq) => {
      if (seq === 0) throw new Error('outbox full');
    });
    const stream = new ReplyStream(ctx, { capBytes: 4 });
    stream.line('abc');
    stream.line('def');
    await stream.end();
    assert.deepEqual(
      sent.map((s) => s.seq),
      [0, 1],
    );
  });

  it('sends nothing after end()', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 1024 });
    stream.line('before');
    await stream.end();
    stream.write(b('after\n'));
    stream.line('after');
    await stream.end('after');
    mock.timers.tick(10 * STREAM_WINDOW_MS);
    await settle();
    assert.deepEqual(outputs(sent), ['before\n']);
    assert.equal(stream.sent, 1);
  });

  it('sends no reply for a stream that had no output', async () => {
    const { sent, ctx } = recorder();
    const stream = new ReplyStream(ctx, { capBytes: 1024 });
    await stream.end();
    assert.deepEqual(sent, []);
  });
});

describe('batchCapBytes', () => {
  it('is the largest batch for a broker with a large max payload', () => {
    assert.equal(batchCapBytes(1024 * 1024), STREAM_MAX_BATCH_BYTES);
    assert.equal(batchCapBytes(8 * 1024 * 1024), STREAM_MAX_BATCH_BYTES);
  });

  it('leaves room for the reply around the output under a smaller max payload', () => {
    const cap = batchCapBytes(64 * 1024);
    assert.equal(cap, 24 * 1024);
    assert.ok(cap * 2 + 16 * 1024 <= 64 * 1024);
  });

  it('is never under 1 KiB', () => {
    assert.equal(batchCapBytes(4 * 1024), 1024);
    assert.equal(batchCapBytes(0), 1024);
  });
});
