import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ParseContext, ParseOutcome } from '../../src/message/parse.js';
import { parseInput } from '../../src/message/parse.js';
import { OFF_THREAD_BYTES, isCompleteInput, operatorRequestOf, parseInputBatches } from '../../src/message/large-input.js';
import { ParseThread } from '../../src/message/parse-thread.js';
import { METHOD_NAMES } from '../../src/methods/registry.js';
import { eventually } from '../support/eventually.js';

const ctx: ParseContext = {
  nodeName: 'central',
  methods: METHOD_NAMES,
  defaultAckTimeoutMs: 7_000,
  defaultRetries: 2,
  defaultMethodTimeoutMs: 9_000,
};

/** All of an input's outcomes, parsed on `thread`. */
async function parseOn(thread: ParseThread, bytes: Uint8Array, c: ParseContext): Promise<ParseOutcome[]> {
  const out: ParseOutcome[] = [];
  await thread.parseInBatches(bytes, c, Number.POSITIVE_INFINITY, (outcomes) => out.push(...outcomes));
  return out;
}

/** The outcomes without what differs from one parse to the next (ids and creation times). */
function comparable(outcomes: ParseOutcome[]): unknown[] {
  return outcomes.map((o) => (o.ok ? { ...o, message: { ...o.message, id: 'ID', createdMs: 0 } } : o));
}

/** All the outcomes of an input, as the inputs get them (on the parser thread when it is large). */
async function parseAll(bytes: Uint8Array): Promise<ParseOutcome[]> {
  const out: ParseOutcome[] = [];
  for await (const b of parseInputBatches(bytes, ctx, 500)) out.push(...b);
  return out;
}

const message = (i: number): Record<string, unknown> => ({
  toNode: `ship${i % 7}`,
  method: 'REQCliCommand',
  methodArgs: ['echo', `n${i}`],
  data: ['x'.repeat(100)],
});

describe('parsing large inputs on the parser thread', () => {
  const threads: ParseThread[] = [];
  after(() => {
    for (const t of threads) t.stop();
  });

  it('gives large inputs the same outcomes, good and bad, as parsing them on the event loop', async () => {
    const elements = Array.from({ length: 300 }, (_, i) =>
      JSON.stringify(i % 50 === 7 ? { ...message(i), method: 'REQCliCommnd' } : message(i)),
    );
    const text = `[${elements.join(',\n')}]`;
    assert.ok(text.length >= OFF_THREAD_BYTES, 'the input must be large enough to go to the parser thread');
    const off = await parseAll(Buffer.from(text));
    assert.equal(off.length, 300);
    assert.equal(off.filter((o) => !o.ok).length, 6);
    assert.deepEqual(comparable(off), comparable(parseInput(Buffer.from(text), ctx)));
    assert.equal(new Set(off.map((o) => (o.ok ? o.message.id : `e${o.index}`))).size, 300, 'every accepted message has its own id');
  });

  it('hands a large input over in batches of whole messages, in order, as the thread parses it', async () => {
    // Every 97th element names three nodes, one of them bad: a job and a refusal, two outcomes
    // of one element, which must stay in one batch.
    const elements = Array.from({ length: 1200 }, (_, i) =>
      JSON.stringify(i % 97 === 0 ? { ...message(i), toNode: undefined, toNodes: ['ship1', 'ship2', 'bad name'] } : message(i)),
    );
    const text = Buffer.from(`[${elements.join(',')}]`);
    const batches: ParseOutcome[][] = [];
    for await (const b of parseInputBatches(text, ctx, 500)) batches.push(b);
    assert.ok(batches.length >= 3, `1,200 messages in batches of 500 come in at least 3 batches, got ${batches.length}`);
    for (const b of batches.slice(0, -1))
      assert.ok(b.length >= 500, `a batch before the last holds at least 500 outcomes, got ${b.length}`);
    for (let i = 1; i < batches.length; i++) {
      const before = (batches[i - 1] as ParseOutcome[]).at(-1) as ParseOutcome;
      const first = (batches[i] as ParseOutcome[])[0] as ParseOutcome;
      assert.equal(first.index, before.index + 1, 'a batch starts with the message after the last one of the batch before');
    }
    const all = batches.flat();
    assert.equal(all.length, 1200 + 13, 'one outcome per message, and one more for each bad name');
    assert.deepEqual(comparable(all), comparable(parseInput(text, ctx)));
  });

  it('gives the first batch before the thread has finished the input', async () => {
    const thread = new ParseThread({ workerFile: new URL('../support/parser-worker-stub.ts', import.meta.url) });
    threads.push(thread);
    const got: string[] = [];
    let firstDone = false;
    const first = thread.parseInBatches(Buffer.from('["hold"]'), ctx, 500, (b) => got.push(...b.map((o) => (o.ok ? 'ok' : o.error))));
    void first.then(() => (firstDone = true));
    await eventually(() => got.length === 1);
    assert.deepEqual(got, ['stub outcome 0']);
    assert.equal(firstDone, false, 'the stub holds the rest of the first input until the next one comes');
    // The next input makes the stub finish the first one.
    const second = await parseOn(thread, Buffer.from('["next"]'), ctx);
    await first;
    assert.deepEqual(got, ['stub outcome 0', 'stub outcome 1']);
    assert.deepEqual(
      second.map((o) => (o.ok ? 'ok' : o.error)),
      ['stub whole answer'],
    );
  });

  it('keeps the batches handed over when the thread ends in the middle of an input, and says where parsing stopped', async () => {
    const thread = new ParseThread({ workerFile: new URL('../support/parser-worker-stub.ts', import.meta.url) });
    threads.push(thread);
    const got: ParseOutcome[] = [];
    await thread.parseInBatches(Buffer.from('["die"]'), ctx, 500, (b) => got.push(...b));
    assert.equal(got.length, 2);
    assert.deepEqual(got[0], { index: 0, ok: false, error: 'stub outcome 0' });
    assert.equal(got[1]?.index, 1);
    assert.match((got[1] as { error?: string }).error ?? '', /^the input could not be parsed from message 1 on: .*exit code 3/);
  });

  it('starts the thread ahead of a large input still arriving, and parses it there without starting another', async () => {
    const thread = new ParseThread();
    threads.push(thread);
    assert.equal(thread.threadsStarted, 0);
    thread.warm();
    thread.warm();
    assert.equal(thread.threadsStarted, 1, 'warming twice starts one thread');
    const text = Buffer.from(`[${Array.from({ length: 400 }, (_, i) => JSON.stringify(message(i))).join(',')}]`);
    const outcomes = await parseOn(thread, text, ctx);
    assert.equal(outcomes.filter((o) => o.ok).length, 400);
    assert.equal(thread.threadsStarted, 1, 'the input went to the warmed thread');
  });

  it('ends a warmed thread that no input comes to, like an idle one, and starts a new one for the next input', async () => {
    // With no idle time the warmed thread is ended before it is even ready: ending it on purpose
    // must not count as a thread that could not start (inputs would then be parsed on the event
    // loop from then on).
    const thread = new ParseThread({ idleMs: 0 });
    threads.push(thread);
    thread.warm();
    assert.equal(thread.running, true);
    await eventually(() => !thread.running, { what: 'the warmed thread to end' });
    for (const i of [5, 6]) {
      const o = await parseOn(thread, Buffer.from(JSON.stringify(message(i))), ctx);
      assert.equal(o[0]?.ok === true ? o[0].message.methodArgs[1] : 'error', `n${i}`);
      await eventually(() => !thread.running, { what: 'the thread to end after its input' });
    }
    assert.equal(thread.unavailable, undefined, 'the parser thread still counts as available');
    assert.equal(thread.threadsStarted, 3, 'each input had a thread of its own (no idle time)');
  });

  it('keeps the event loop free while a document nested a million levels deep is parsed', async () => {
    const deep = Buffer.from('['.repeat(1_000_000) + ']'.repeat(1_000_000));
    let turns = 0;
    const tick = setInterval(() => turns++, 1);
    let during = -1;
    const result = parseAll(deep).then((r) => {
      during = turns;
      return r;
    });
    const outcomes = await result;
    clearInterval(tick);
    assert.match((outcomes[0] as { error?: string }).error ?? '', /expected an object with toNode and method, got an array/);
    assert.ok(during > 0, 'timers ran while the document was being parsed');
  });

  it('answers each of several inputs handed over at once with its own outcome', async () => {
    const pad = ' '.repeat(OFF_THREAD_BYTES);
    const inputs = [0, 1, 2, 3].map((i) => Buffer.from(`${JSON.stringify(message(i))}${pad}`));
    inputs.push(Buffer.from(`{"toNode": "ship1", "method": "REQNope"}${pad}`));
    const all = await Promise.all(inputs.map((b) => parseAll(b)));
    assert.deepEqual(
      all.map((o) => (o[0]?.ok === true ? o[0].message.methodArgs[1] : 'error')),
      ['n0', 'n1', 'n2', 'n3', 'error'],
    );
  });

  it('tells complete documents and operator requests apart on the parser thread too', async () => {
    const pad = ' '.repeat(OFF_THREAD_BYTES);
    assert.equal(await isCompleteInput(Buffer.from(`[${JSON.stringify(message(1))}]${pad}`)), true);
    assert.equal(await isCompleteInput(Buffer.from(`[${JSON.stringify(message(1))},${pad}`)), false);
    assert.deepEqual(await operatorRequestOf(Buffer.from(`{"control":"queue"}${pad}`)), { control: 'queue' });
    assert.equal(await operatorRequestOf(Buffer.from(`{"control":${'['.repeat(200_000)}`)), undefined);
  });

  it('answers an input that exhausts the thread heap with an error, and parses the next on a new thread', async () => {
    const thread = new ParseThread({ heapMb: 16 });
    threads.push(thread);
    const big = Buffer.from(`[${Array.from({ length: 40_000 }, (_, i) => JSON.stringify(message(i))).join(',')}]`);
    const small = Buffer.from(JSON.stringify(message(3)));
    const [failed, next] = await Promise.all([parseOn(thread, big, ctx), parseOn(thread, small, ctx)]);
    assert.equal(failed.length, 1);
    assert.match((failed[0] as { error?: string }).error ?? '', /^the input could not be parsed: .*memory/);
    assert.equal(next[0]?.ok === true ? next[0].message.methodArgs[1] : 'error', 'n3');
  });

  it('parses an input handed over while the idle thread is ending on the next thread', async () => {
    // With no idle time, each thread is ended as soon as its answer is out; the next input comes
    // after that (a timer later), before the old thread has finished exiting.
    const thread = new ParseThread({ idleMs: 0 });
    threads.push(thread);
    const got: string[] = [];
    for (let i = 0; i < 8; i++) {
      const o = await parseOn(thread, Buffer.from(JSON.stringify(message(i))), ctx);
      got.push(o[0]?.ok === true ? (o[0].message.methodArgs[1] ?? '?') : `error: ${(o[0] as { error?: string }).error}`);
      await new Promise((r) => setTimeout(r, 0));
    }
    assert.deepEqual(got, ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7']);
  });

  it('parses on the event loop instead when the parser thread cannot start', async () => {
    const thread = new ParseThread({ workerFile: new URL('./no-such-parser-worker.js', import.meta.url) });
    threads.push(thread);
    const pad = ' '.repeat(OFF_THREAD_BYTES);
    const [a, b] = await Promise.all([
      parseOn(thread, Buffer.from(JSON.stringify(message(1)) + pad), ctx),
      parseOn(thread, Buffer.from(JSON.stringify(message(2)) + pad), ctx),
    ]);
    assert.match(thread.unavailable ?? '', /no-such-parser-worker/);
    const c = await parseOn(thread, Buffer.from(JSON.stringify(message(3)) + pad), ctx);
    assert.deepEqual(
      [a, b, c].map((o) => (o[0]?.ok === true ? o[0].message.methodArgs[1] : 'error')),
      ['n1', 'n2', 'n3'],
    );
  });
});
