import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_REPLY_METHOD, newMessage, NO_REPLY, type Message } from '../../src/message/message.js';
import { makeReply, type ReplyDefaults } from '../../src/message/reply.js';

const SENT = 1_700_000_000_000;
const NOW = SENT + 5_000;
const defaults: ReplyDefaults = { nodeName: 'node2', ackTimeoutMs: 7_000, retries: 3, methodTimeoutMs: 9_000 };

/** A request from node1 that node2 runs. */
const request = (extra: Partial<Message> = {}): Message =>
  newMessage(
    {
      toNode: 'node2',
      fromNode: 'node1',
      method: 'REQCliCommand',
      methodArgs: ['echo', 'hi'],
      replyMethod: 'REQToFile',
      replyMethodArgs: ['--flag'],
      ackTimeoutMs: 5_000,
      retries: 1,
      data: ['request data'],
      directory: 'results',
      fileName: 'out.txt',
      relayReplyMethod: 'REQToConsole',
      ...extra,
    },
    SENT,
  );

/** The reply, which must exist. */
function replyTo(req: Message, output = 'hi\n', seq = 0, d: ReplyDefaults = defaults): Message {
  const r = makeReply(req, output, seq, d, NOW);
  if (r === undefined) return assert.fail('expected a reply');
  return r;
}

describe('makeReply', () => {
  it('gives no reply to a request whose replyMethod is REQNone', () => {
    assert.equal(makeReply(request({ replyMethod: NO_REPLY }), 'output', 0, defaults, NOW), undefined);
  });

  it('sends the reply back to the sender, from the replying node', () => {
    const r = replyTo(request());
    assert.equal(r.toNode, 'node1');
    assert.equal(r.fromNode, 'node2');
  });

  it('runs the reply with the request replyMethod and replyMethodArgs', () => {
    const r = replyTo(request());
    assert.equal(r.method, 'REQToFile');
    assert.deepEqual(r.methodArgs, ['--flag']);
    assert.equal(r.isReply, true);
    assert.equal(r.replyMethod, DEFAULT_REPLY_METHOD);
  });

  it('carries the output as its only data and keeps where the result goes', () => {
    const r = replyTo(request(), 'line 1\nline 2\n');
    assert.deepEqual(r.data, ['line 1\nline 2\n']);
    assert.equal(r.directory, 'results');
    assert.equal(r.fileName, 'out.txt');
    assert.equal(r.relayReplyMethod, 'REQToConsole');
  });

  it('derives its id from the request id and the reply number', () => {
    const req = request();
    assert.equal(replyTo(req, 'a', 0).id, `${req.id}-r0`);
    assert.equal(replyTo(req, 'b', 7).id, `${req.id}-r7`);
    assert.equal(replyTo(req, 'c', 7).id, replyTo(req, 'd', 7).id, 'a re-run gives the same id');
  });

  it('is created at the time given', () => {
    assert.equal(replyTo(request()).createdMs, NOW);
  });

  it('takes its ACK timeout, retries and method timeout from the request when they are set', () => {
    const r = replyTo(request({ replyAckTimeoutMs: 2_000, replyRetries: 4, replyMethodTimeoutMs: 60_000 }));
    assert.equal(r.ackTimeoutMs, 2_000);
    assert.equal(r.retries, 4);
    assert.equal(r.methodTimeoutMs, 60_000);
  });

  it('takes the replying node defaults when the request leaves them at 0', () => {
    const r = replyTo(request({ replyAckTimeoutMs: 0, replyRetries: 0, replyMethodTimeoutMs: 0 }));
    assert.equal(r.ackTimeoutMs, 7_000);
    assert.equal(r.retries, 3);
    assert.equal(r.methodTimeoutMs, 9_000);
  });

  it('takes the defaults for a timeout under one second', () => {
    const r = replyTo(request({ replyAckTimeoutMs: 999, replyMethodTimeoutMs: 500 }));
    assert.equal(r.ackTimeoutMs, 7_000);
    assert.equal(r.methodTimeoutMs, 9_000);
  });

  it('keeps -1 (retry until delivered, no time limit) from the request', () => {
    const r = replyTo(request({ replyRetries: -1, replyMethodTimeoutMs: -1 }));
    assert.equal(r.retries, -1);
    assert.equal(r.methodTimeoutMs, -1);
  });

  it('does not carry the request own timeouts into the reply', () => {
    const r = replyTo(request({ ackTimeoutMs: 30_000, retries: 9, methodTimeoutMs: 40_000 }));
    assert.equal(r.ackTimeoutMs, 7_000);
    assert.equal(r.retries, 3);
    assert.equal(r.methodTimeoutMs, 9_000);
  });

  it('names the request in previousMessage, without its data', () => {
    const req = request();
    const r = replyTo(req);
    const { data: _data, ...withoutData } = req;
    assert.deepEqual(r.previousMessage, withoutData);
    assert.equal(r.previousMessage !== undefined && 'data' in r.previousMessage, false);
  });

  it('does not nest the previousMessage of the request inside the new one', () => {
    const first = replyTo(request());
    const notAReply = { ...request(), previousMessage: first.previousMessage } as Message;
    const r = replyTo(notAReply);
    assert.equal(r.previousMessage?.id, notAReply.id);
    assert.equal(r.previousMessage !== undefined && 'previousMessage' in r.previousMessage, false);
  });

  it('keeps a reply to a reply on the replying node, about the original request', () => {
    const req = request();
    const first = replyTo(req, 'first', 0);
    // node1 runs the reply with a method that replies again (e.g. REQCliCommand as replyMethod).
    const onNode1: ReplyDefaults = { ...defaults, nodeName: 'node1' };
    const second = replyTo({ ...first, replyMethod: 'REQToFileAppend' }, 'second', 0, onNode1);
    assert.equal(second.toNode, 'node1');
    assert.equal(second.fromNode, 'node1');
    assert.equal(second.isReply, true);
    assert.deepEqual(second.previousMessage, first.previousMessage);
    assert.equal(second.previousMessage?.id, req.id);
    assert.equal(second.id, `${first.id}-r0`);
  });

  it('makes a reply to a reply that lost its previousMessage about that reply', () => {
    const { previousMessage: _p, ...first } = replyTo(request());
    const second = replyTo(first, 'x', 0, { ...defaults, nodeName: 'node1' });
    assert.equal(second.toNode, 'node1');
    assert.equal(second.previousMessage?.id, first.id);
  });
});
