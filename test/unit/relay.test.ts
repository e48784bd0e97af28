import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MESSAGE_ID, newId, partId, replyId, requestIdOfPart } from '../../src/message/id.js';
import { newMessage, NODE_NAME, type Message } from '../../src/message/message.js';
import { makeReply, type ReplyDefaults } from '../../src/message/reply.js';
import { RELAY_INITIAL_METHOD, RELAY_METHOD, relayBack, relayInitial, relayOnward, relayToVia } from '../../src/message/relay.js';

const NOW = 1_700_000_000_000;
const validNode = (n: string): boolean => NODE_NAME.test(n);
const replyDefaults = (nodeName: string): ReplyDefaults => ({ nodeName, ackTimeoutMs: 5_000, retries: 1, methodTimeoutMs: 10_000 });

/** What an operator gives node1: run a command on node2, through central. */
const given = (extra: Partial<Message> = {}): Message =>
  newMessage(
    {
      toNode: 'node2',
      fromNode: 'node1',
      method: 'REQCliCommand',
      methodArgs: ['hostname'],
      replyMethod: 'REQToFileAppend',
      relayViaNode: 'central',
      relayReplyMethod: 'REQToConsole',
      ackTimeoutMs: 5_000,
      retries: 1,
      data: ['payload'],
      ...extra,
    },
    NOW,
  );

/** Steps 1 to 4: the relayed message as node2 receives it, and node2's reply to it. */
function throughCentral(msg: Message): { initial: Message; toVia: Message; onward: Message; reply: Message } {
  const initial = relayInitial(msg, 'node1');
  if (initial === undefined) return assert.fail('expected the message to be relayed');
  const toVia = relayToVia(initial, 'node1');
  const onward = relayOnward(toVia, 'central');
  const reply = makeReply(onward, 'node2.example\n', 0, replyDefaults('node2'), NOW);
  if (reply === undefined) return assert.fail('expected a reply');
  return { initial, toVia, onward, reply };
}

describe('relayInitial (step 1, at the input of node1)', () => {
  it('turns a message with relayViaNode into a REQRelayInitial for node1 that remembers the route', () => {
    const msg = given();
    const initial = relayInitial(msg, 'node1');
    assert.deepEqual(initial, {
      ...msg,
      method: RELAY_INITIAL_METHOD,
      toNode: 'node1',
      relayViaNode: '',
      relayFromNode: 'node1',
      relayToNode: 'node2',
      relayOriginalViaNode: 'central',
      relayOriginalMethod: 'REQCliCommand',
    });
  });

  it('leaves a message without relayViaNode, or relayed via this node, alone', () => {
    assert.equal(relayInitial(given({ relayViaNode: '' }), 'node1'), undefined);
    assert.equal(relayInitial(given({ relayViaNode: 'node1' }), 'node1'), undefined);
  });
});

describe('relayToVia and relayOnward (steps 1 and 2)', () => {
  it('sends the REQRelay to the relay node with an id derived from the first', () => {
    const msg = given();
    const { toVia } = throughCentral(msg);
    assert.equal(toVia.method, RELAY_METHOD);
    assert.equal(toVia.toNode, 'central');
    assert.equal(toVia.fromNode, 'node1');
    assert.equal(toVia.id, `${msg.id}-relay`);
    assert.deepEqual(toVia.data, ['payload']);
    assert.equal(toVia.relayToNode, 'node2');
  });

  it('has the relay node send the original method on to the target, naming itself as the relay', () => {
    const msg = given();
    const { onward } = throughCentral(msg);
    assert.equal(onward.method, 'REQCliCommand');
    assert.deepEqual(onward.methodArgs, ['hostname']);
    assert.equal(onward.toNode, 'node2');
    assert.equal(onward.fromNode, 'central');
    assert.equal(onward.relayOriginalViaNode, 'central');
    assert.equal(onward.relayFromNode, 'node1');
    assert.equal(onward.id, `${msg.id}-relay-fwd`);
    assert.deepEqual(onward.data, ['payload']);
  });

  it('gives the same hop ids when a hop is redone', () => {
    const msg = given();
    const a = throughCentral(msg);
    const b = throughCentral(msg);
    assert.deepEqual([b.toVia.id, b.onward.id, b.reply.id], [a.toVia.id, a.onward.id, a.reply.id]);
  });

  it('stamps each hop with the time it was made', () => {
    const before = Date.now();
    const { toVia, onward } = throughCentral(given());
    assert.ok(toVia.createdMs >= before && toVia.createdMs <= Date.now());
    assert.ok(onward.createdMs >= before && onward.createdMs <= Date.now());
  });
});

describe('relayBack (step 5, on the relay node)', () => {
  it('copies node2 reply to node1 with relayReplyMethod', () => {
    const { reply } = throughCentral(given());
    assert.equal(reply.toNode, 'central', 'node2 replies to the relay node');
    const copy = relayBack(reply, 'central', validNode);
    assert.ok(copy !== undefined);
    assert.equal(copy.toNode, 'node1');
    assert.equal(copy.fromNode, 'central');
    assert.equal(copy.method, 'REQToConsole');
    assert.equal(copy.relayReplyMethod, '');
    assert.equal(copy.id, `${reply.id}-back`);
    assert.deepEqual(copy.data, ['node2.example\n']);
    assert.equal(copy.isReply, true);
  });

  it('uses the reply method when no relayReplyMethod was given', () => {
    const { reply } = throughCentral(given({ relayReplyMethod: '' }));
    assert.equal(relayBack(reply, 'central', validNode)?.method, 'REQToFileAppend');
  });

  it('clears the relay markers of the copy, so node1 does not copy it again', () => {
    const { reply, onward } = throughCentral(given());
    const copy = relayBack(reply, 'central', validNode);
    assert.equal(copy?.previousMessage?.relayOriginalViaNode, '');
    assert.equal(copy?.previousMessage?.relayFromNode, '');
    assert.equal(copy?.previousMessage?.id, onward.id);
    assert.equal(copy !== undefined && relayBack(copy, 'node1', validNode), undefined);
  });

  it('lets node1 find the request the copy answers', () => {
    const msg = given();
    const copy = relayBack(throughCentral(msg).reply, 'central', validNode);
    assert.equal(requestIdOfPart(copy?.previousMessage?.id ?? ''), msg.id);
  });

  it('returns undefined for a reply about a message another node relayed', () => {
    const { reply } = throughCentral(given());
    assert.equal(relayBack(reply, 'elsewhere', validNode), undefined);
  });

  it('returns undefined for a message that is not a reply, or has no previousMessage', () => {
    const { reply, onward } = throughCentral(given());
    assert.equal(relayBack({ ...reply, isReply: false }, 'central', validNode), undefined);
    const { previousMessage: _p, ...bare } = reply;
    assert.equal(relayBack(bare, 'central', validNode), undefined);
    assert.equal(relayBack(onward, 'central', validNode), undefined);
  });

  it('returns undefined for a reply about a plain (not relayed) message', () => {
    const plain = newMessage(
      { toNode: 'node2', fromNode: 'central', method: 'REQCliCommand', replyMethod: 'REQToFile', ackTimeoutMs: 5_000, retries: 1 },
      NOW,
    );
    const reply = makeReply(plain, 'out', 0, replyDefaults('node2'), NOW) as Message;
    assert.equal(relayBack(reply, 'central', validNode), undefined);
  });

  it('returns undefined when the node to copy to is missing or not a valid node name', () => {
    const { reply } = throughCentral(given());
    const prev = reply.previousMessage as NonNullable<Message['previousMessage']>;
    const { relayFromNode: _r, ...noOrigin } = prev;
    assert.equal(relayBack({ ...reply, previousMessage: noOrigin }, 'central', validNode), undefined);
    assert.equal(relayBack({ ...reply, previousMessage: { ...prev, relayFromNode: 'a.>' } }, 'central', validNode), undefined);
    assert.equal(
      relayBack(reply, 'central', () => false),
      undefined,
    );
  });
});

describe('message ids', () => {
  it('makes ULIDs that sort in creation order, also within one millisecond', () => {
    const ids = [newId(NOW), newId(NOW), newId(NOW), newId(NOW + 1), newId(NOW + 1_000)];
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('makes ids a receiver accepts', () => {
    for (const id of [newId(), replyId(newId(), 12), partId(newId(), 'c3')]) assert.match(id, MESSAGE_ID);
  });

  it('derives reply ids from the request id and the reply number (0 by default)', () => {
    assert.equal(replyId('REQ'), 'REQ-r0');
    assert.equal(replyId('REQ', 42), 'REQ-r42');
  });

  it('derives part ids from the request id', () => {
    assert.equal(partId('REQ', 'c12'), 'REQ-c12');
    assert.equal(partId('REQ', 'end'), 'REQ-end');
  });

  it('finds the request of a part id, through several parts', () => {
    for (const part of ['end', 'abort', 'c0', 'c123', 'relay', 'fwd']) assert.equal(requestIdOfPart(partId('REQ', part)), 'REQ', part);
    assert.equal(requestIdOfPart('REQ-relay-fwd'), 'REQ');
    assert.equal(requestIdOfPart('REQ-c7-end'), 'REQ');
  });

  it('gives back an id that is not a part id unchanged', () => {
    for (const id of ['REQ', 'REQ-r0', 'REQ-back', 'REQ-cx', 'REQ-c', '-end', 'REQ-relay-r0']) assert.equal(requestIdOfPart(id), id);
  });
});
