import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { inputAcceptor, type AcceptorDeps } from '../../src/inputs/accept.js';
import { KINDS, newMessage, type Message } from '../../src/message/message.js';
import type { ParseOutcome } from '../../src/message/parse.js';
import { METHOD_NAMES } from '../../src/methods/registry.js';
import { eventually } from '../support/eventually.js';

const outcome = (index: number): ParseOutcome => ({
  index,
  ok: true,
  message: newMessage(
    {
      toNode: 'ship1',
      fromNode: 'central',
      method: 'REQToFileAppend',
      data: [`line ${index}\n`],
      directory: 'a',
      fileName: 'b',
      ackTimeoutMs: 5000,
      retries: 1,
    },
    Date.now(),
  ),
});

/** An acceptor whose parse is the batches given, and whose store records what it was given. */
function acceptor(parseBatches: NonNullable<AcceptorDeps['parseBatches']>): {
  accept: ReturnType<typeof inputAcceptor>;
  committed: Message[][];
} {
  const committed: Message[][] = [];
  const accept = inputAcceptor({
    parse: { nodeName: 'central', methods: METHOD_NAMES, defaultAckTimeoutMs: 5000, defaultRetries: 1, defaultMethodTimeoutMs: 10_000 },
    wire: { serialization: 'cbor', compression: '' },
    maxPayload: () => 1024 * 1024,
    kindOf: () => KINDS.EventACK,
    chunk: 500,
    submit: async (messages) => {
      committed.push(messages);
    },
    accepted: () => undefined,
    parseBatches,
    logger: pino({ level: 'silent' }),
  });
  return { accept, committed };
}

describe('accepting a large input', () => {
  it('stores the first messages while the rest of the input is still being parsed', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const { accept, committed } = acceptor(async function* () {
      yield Array.from({ length: 500 }, (_, i) => outcome(i));
      await gate; // the parser thread is still at work on the rest
      yield [...Array.from({ length: 100 }, (_, i) => outcome(500 + i)), { index: 600, ok: false, error: 'message 600: bad' }];
    });
    const answered = accept(Buffer.from('ignored'));
    await eventually(() => committed.length === 1, { what: 'the first chunk committed' });
    assert.equal(committed[0]?.length, 500);
    release();
    const results = await answered;
    assert.deepEqual(
      committed.map((c) => c.length),
      [500, 100],
    );
    assert.equal(results.length, 601);
    assert.deepEqual(
      results.map((r) => r.index),
      Array.from({ length: 601 }, (_, i) => i),
      'one answer line per message, in input order',
    );
    assert.equal(results.filter((r) => r.status === 'accepted').length, 600);
    assert.deepEqual(results[600], { status: 'error', index: 600, error: 'message 600: bad' });
  });

  it('commits in chunks of the configured size whatever the size of the batches parsed', async () => {
    const { accept, committed } = acceptor(async function* () {
      let i = 0;
      for (const size of [120, 700, 30, 400]) {
        yield Array.from({ length: size }, () => outcome(i++));
      }
    });
    const results = await accept(Buffer.from('ignored'));
    assert.deepEqual(
      committed.map((c) => c.length),
      [500, 500, 250],
    );
    assert.equal(results.filter((r) => r.status === 'accepted').length, 1250);
  });
});
