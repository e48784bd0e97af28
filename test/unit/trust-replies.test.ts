import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message, MessageDraft } from '../../src/message/message.js';
import { matchReply } from '../../src/node/replies.js';
import { resultPath } from '../../src/store/result-path.js';
import { originRequestOf, signOrigin, verifyOrigin, type OriginRequest } from '../../src/trust/origin.js';
import { identity, msg, relayed, sentOf } from '../support/unit-trust.js';

const [node1, ship9, here] = [identity('node1'), identity('ship9'), identity('node2')];
const keys: Record<string, string> = { node1: node1.key, ship9: ship9.key };

describe('origin proofs', () => {
  const req = (): OriginRequest => originRequestOf(msg({ fromNode: 'node1', data: ['x'] }), 'node2', 'REQCliCommand');

  it('verifies a request signed by its origin, with the key bound to it or the carrier’s word for an unknown origin', () => {
    const r = req();
    const field = signOrigin(node1.proofs, r);
    assert.deepEqual(
      verifyOrigin(here.proofs, field, (n) => keys[n], false),
      r,
    );
    assert.deepEqual(
      verifyOrigin(here.proofs, field, () => undefined, true),
      r,
    );
    assert.equal(
      verifyOrigin(here.proofs, field, () => undefined, false),
      'its origin node1 is not known here',
    );
  });

  it('refuses an origin proof that is missing, not JSON, malformed, changed, or made by another key', () => {
    const field = JSON.parse(signOrigin(node1.proofs, req())) as { request: OriginRequest };
    const check = (f: string | undefined): OriginRequest | string => verifyOrigin(here.proofs, f, (n) => keys[n], false);
    assert.equal(check(undefined), 'it carries no proof of its origin');
    assert.equal(check(''), 'it carries no proof of its origin');
    assert.equal(check('{'), 'its origin proof is not JSON');
    assert.equal(check('null'), 'its origin proof is malformed');
    assert.equal(check(JSON.stringify({ ...field, request: { ...field.request, methodArgs: [1] } })), 'its origin proof is malformed');
    const changed = JSON.stringify({ ...field, request: { ...field.request, methodArgs: ['reboot'] } });
    assert.equal(check(changed), 'its origin proof does not match the request');
    assert.equal(check(signOrigin(ship9.proofs, req())), 'its origin proof is made by a key that is not the one of node1');
  });
});

describe('matchReply', () => {
  const request = msg({
    fromNode: 'node2',
    toNode: 'ship1',
    methodArgs: ['uptime'],
    replyMethod: 'REQToFile',
    replyMethodArgs: ['kept'],
    directory: 'results',
    fileName: 'uptime.txt',
  });
  const reply = (draft: Partial<MessageDraft> = {}): Message =>
    msg({
      id: `${request.id}-r0`,
      fromNode: 'ship1',
      isReply: true,
      method: 'REQToFile',
      methodArgs: ['evil'],
      directory: '../../etc',
      fileName: 'passwd',
      data: ['up 3 days'],
      ...draft,
    });

  it('runs a reply with the method arguments, result path and request this node stored, and its own data only', () => {
    const m = matchReply(reply({ previousMessage: { ...request, toNode: 'forged' } }), 'ship1', sentOf(request), 'node2');
    if (typeof m === 'string') return assert.fail(m);
    assert.deepEqual(m.methodArgs, ['kept']);
    assert.equal(m.directory, 'results');
    assert.equal(m.fileName, 'uptime.txt');
    assert.equal(m.replyMethod, 'REQToFileAppend');
    assert.deepEqual(m.data, ['up 3 days']);
    const { data: _d, ...stored } = request;
    assert.deepEqual(m.previousMessage, { ...stored, toNode: 'ship1' });
    assert.equal(resultPath('/data', m, 'x'), '/data/results/ship1/uptime.txt');
  });

  it('refuses a reply to a request never sent, sent to another node, or by another method', () => {
    assert.equal(matchReply(reply({ id: 'X-r0' }), 'ship1', sentOf(request), 'node2'), 'reply X-r0 from ship1 refused: node2 never sent X');
    assert.equal(
      matchReply(reply(), 'ship2', sentOf(request), 'node2'),
      `reply ${request.id}-r0 from ship2 refused: ${request.id} went to ship1, not to ship2`,
    );
    assert.equal(
      matchReply(reply({ method: 'REQCliCommand' }), 'ship1', sentOf(request), 'node2'),
      `reply ${request.id}-r0 from ship1 refused: the request asked for REQToFile replies, not REQCliCommand`,
    );
    assert.match(matchReply(reply({ id: request.id }), 'ship1', sentOf(request), 'node2') as string, /its id is not the id of a reply$/);
  });

  it('accepts a relayed-back reply from the relay node only, with the relay reply method only', () => {
    const { toVia, onward } = relayed(node1, { relayReplyMethod: 'REQToConsole' });
    const back = (draft: Partial<MessageDraft>): Message =>
      msg({ id: `${onward.id}-r0-back`, fromNode: 'central', toNode: 'node1', isReply: true, method: 'REQToConsole', ...draft });
    const m = matchReply(back({ previousMessage: { ...onward, toNode: 'node2' } }), 'central', sentOf(toVia), 'node1');
    if (typeof m === 'string') return assert.fail(m);
    assert.equal(m.previousMessage?.toNode, 'node2');
    assert.equal(m.previousMessage?.relayOriginalViaNode, '');
    assert.deepEqual(m.methodArgs, []);
    assert.match(matchReply(back({}), 'ship9', sentOf(toVia), 'node1') as string, /node1 never had ship9 relay that message$/);
    assert.match(matchReply(back({ method: 'REQToFile' }), 'central', sentOf(toVia), 'node1') as string, /asked for REQToConsole replies/);
    const noFwd = back({ id: `${toVia.id}-r0-back` });
    assert.match(matchReply(noFwd, 'central', sentOf(toVia), 'node1') as string, /a relayed reply that answers no relayed message$/);
    const byCommand = relayed(node1, { replyMethod: 'REQCliCommand' });
    assert.match(
      matchReply(back({ method: 'REQCliCommand' }), 'central', sentOf(byCommand.toVia), 'node1') as string,
      /never had central relay/,
      'a reply to another relayed message',
    );
    const m2 = back({ id: `${byCommand.onward.id}-r0-back`, method: 'REQCliCommand' });
    assert.match(matchReply(m2, 'central', sentOf(byCommand.toVia), 'node1') as string, /a relayed reply may only be handled by REQToFile/);
  });

  it("accepts the end reply of a copy from the copy's destination, and from no other node", () => {
    const copy = msg({ fromNode: 'node2', toNode: 'ship1', method: 'REQCopyFileFrom', methodArgs: ['/etc/hosts', 'ship3', '/tmp/hosts'] });
    const end = msg({ id: `${copy.id}-end-r0`, fromNode: 'ship3', isReply: true, method: 'REQNone' });
    const m = matchReply(end, 'ship3', sentOf(copy), 'node2');
    assert.equal(typeof m === 'string' ? m : m.previousMessage?.toNode, 'ship3');
    assert.equal(
      matchReply(end, 'ship9', sentOf(copy), 'node2'),
      `reply ${end.id} from ship9 refused: node2 never asked for a copy to ship9`,
    );
  });
});
