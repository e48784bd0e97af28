import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from '../../src/message/message.js';
import { relayInitial, relayOnward, relayToVia } from '../../src/message/relay.js';
import { chunkArgs } from '../../src/methods/copy-protocol.js';
import { admit, type AdmissionDeps } from '../../src/node/admission.js';
import { LEDGER_RETENTION_MS } from '../../src/store/inbox.js';
import { resultPath } from '../../src/store/result-path.js';
import { originRequestOf, signOrigin, type OriginRequest } from '../../src/trust/origin.js';
import { decide, parsePolicy, type PolicyRequest } from '../../src/trust/policy.js';
import { identity, msg, NOW, relayed as relayedBy, sentOf } from '../support/unit-trust.js';

const [node1, ops, ship9, here] = [identity('node1'), identity('ops'), identity('ship9'), identity('node2')];
const keys: Record<string, string> = { node1: node1.key, ops: ops.key, ship9: ship9.key };
const relayed = (extra: Parameters<typeof relayedBy>[1] = {}): ReturnType<typeof relayedBy> => relayedBy(node1, extra);

/** Admission deps of node2 (or `nodeName`), whose policy allows everything and records what it was asked. */
function deps(over: Partial<AdmissionDeps> = {}): AdmissionDeps & { asked: PolicyRequest[] } {
  const asked: PolicyRequest[] = [];
  return {
    nodeName: 'node2',
    centralName: 'central',
    sent: () => undefined,
    decide: (req) => (asked.push(req), { allow: true, rule: 'test: allow' }),
    proofs: here.proofs,
    keyOf: (n) => keys[n],
    revoked: () => false,
    bind: () => false,
    switchedOff: () => false,
    now: () => NOW,
    ...over,
    asked,
  };
}

describe('admit', () => {
  it('refuses a message older than the 30 days message ids are remembered', () => {
    const old = msg({ createdMs: NOW - LEDGER_RETENTION_MS - 1 });
    assert.deepEqual(admit(old, 'central', deps()), {
      ok: false,
      error: 'it is older than the 30 days this node remembers message ids for (a replay?)',
    });
  });

  it('refuses REQToFile and REQToFileAppend into errorLog/ or hello-messages/, however the path is spelled', () => {
    for (const [method, directory] of [
      ['REQToFile', 'errorLog'],
      ['REQToFileAppend', '/errorLog/x'],
      ['REQToFile', 'a/../hello-messages'],
    ] as const) {
      const res = admit(msg({ method, directory }), 'central', deps());
      assert.equal(res.ok, false);
      assert.match(res.ok ? '' : res.error, /^REQToFile(Append)? may not write into (errorLog|hello-messages)\/, which only node2 writes$/);
    }
  });

  it('keeps a REQToFile out of errorLog/ when it names errorLog as the node that ran it', () => {
    const m = msg({ method: 'REQToFile', directory: '', fileName: 'x.log', previousMessage: { ...msg(), toNode: 'errorLog' } });
    const res = admit(m, 'central', deps());
    if (res.ok) assert.ok(!resultPath('/data', res.msg, 'f').startsWith('/data/errorLog/'), resultPath('/data', res.msg, 'f'));
  });

  it('matches a reply to the request it answers, before any policy', () => {
    const request = msg({ fromNode: 'node2', toNode: 'ship1', replyMethod: 'REQToFile' });
    const d = deps({ sent: sentOf(request) });
    const res = admit(msg({ id: `${request.id}-r0`, fromNode: 'ship1', isReply: true, method: 'REQToFile' }), 'ship1', d);
    assert.equal(res.ok, true);
    assert.deepEqual(d.asked, []);
    assert.equal(admit(msg({ id: 'X-r0', isReply: true, method: 'REQToFile' }), 'ship1', d).ok, false);
  });

  it('asks the policy about a REQRelay against its sender and target, and gives the rule of a denial', () => {
    const { toVia } = relayed();
    const d = deps({ nodeName: 'central' });
    assert.equal(admit(toVia, 'node1', d).ok, true);
    assert.deepEqual(d.asked, [{ from: 'node1', method: 'REQRelay', methodArgs: ['REQCliCommand', 'uptime'], relayTo: 'node2' }]);
    const denied = admit(toVia, 'node1', deps({ nodeName: 'central', decide: () => ({ allow: false, rule: 'no relays' }) }));
    assert.deepEqual(denied, {
      ok: false,
      error: 'denied by the policy of central: node1 may not relay REQCliCommand to node2 (rule: no relays)',
      rule: 'no relays',
    });
  });

  it('refuses a REQRelay without an origin proof, or with one for another request or message', () => {
    const { toVia } = relayed();
    const at = (m: Message): string => {
      const res = admit(m, 'node1', deps({ nodeName: 'central' }));
      return res.ok ? 'admitted' : res.error;
    };
    const { origin: _o, ...bare } = toVia;
    assert.equal(at(bare), 'relay refused: it carries no proof of its origin');
    assert.equal(at({ ...toVia, methodArgs: ['reboot'] }), 'relay refused: its origin proof is for another request');
    assert.equal(at({ ...toVia, relayToNode: 'ship7' }), 'relay refused: its origin proof is for another request');
    assert.equal(at({ ...toVia, id: 'OTHER-relay' }), 'relay refused: its origin proof is for another message');
    assert.equal(
      at({ ...toVia, relayReplyMethod: 'REQCliCommand' }),
      'relay refused: relayReplyMethod may only be REQToFile, REQToFileAppend, REQToConsole, REQNone',
    );
  });

  it('admits a relayed message against its origin, naming the relay node as via', () => {
    const { onward } = relayed();
    const d = deps();
    assert.deepEqual(admit(onward, 'central', d), { ok: true, msg: onward });
    assert.deepEqual(d.asked, [{ from: 'node1', method: 'REQCliCommand', methodArgs: ['uptime'], via: 'central' }]);
    const denied = admit(onward, 'central', deps({ decide: () => ({ allow: false, rule: 'r' }) }));
    assert.equal(denied.ok ? '' : denied.error, 'denied by the policy of node2: node1 may not REQCliCommand (rule: r)');
    const changed = admit({ ...onward, methodArgs: ['reboot'] }, 'central', deps());
    assert.equal(changed.ok ? '' : changed.error, 'relayed message refused: its origin proof is for another request');
    // ship9 carries node1's proof on in its own name: the origin is still node1's, checked against its own key.
    const forged = { ...onward, origin: signOrigin(ship9.proofs, (JSON.parse(onward.origin ?? '') as { request: OriginRequest }).request) };
    const res = admit(forged, 'central', deps());
    assert.equal(res.ok ? '' : res.error, 'relayed message refused: its origin proof is made by a key that is not the one of node1');
  });

  it('does not let another node relay in the name of an origin unknown here when the rule says via central', () => {
    const { rules } = parsePolicy('[[rule]]\nfrom = ["ops"]\nmethods = ["REQCliCommand"]\nvia = ["central"]\naction = "allow"\n');
    // ship9 makes up a request of ops (unknown to node2), signs it itself and relays it in its own name.
    const initial = relayInitial(msg({ fromNode: 'ops', methodArgs: ['uptime'], relayViaNode: 'ship9' }), 'ops') as Message;
    const signed = { ...initial, origin: signOrigin(ship9.proofs, originRequestOf(initial, 'node2', 'REQCliCommand')) };
    const forged = relayOnward(relayToVia(signed, 'ops'), 'ship9');
    const d = deps({ keyOf: (n) => (n === 'ops' ? undefined : keys[n]), decide: (r) => decide(rules, r) });
    assert.equal(admit(forged, 'ship9', d).ok, false);
  });

  it('refuses a relayed message whose origin node is revoked here', () => {
    const { onward } = relayed();
    // Keyring.keyOf gives only pinned keys: a revoked node1 looks unknown; `revoked` says it is not.
    const res = admit(onward, 'central', deps({ keyOf: (n) => (n === 'node1' ? undefined : keys[n]), revoked: (n) => n === 'node1' }));
    assert.equal(res.ok, false);
  });

  it('refuses a relayed message whose signed origin request is older than 30 days', () => {
    const { onward } = relayed({ createdMs: NOW - LEDGER_RETENTION_MS - 1 });
    assert.ok(onward.createdMs > NOW - LEDGER_RETENTION_MS, 'the relay node sends it on as a new message');
    assert.equal(admit(onward, 'central', deps()).ok, false);
  });

  it("admits a REQCopyFileTo carrying its requester's signed request, against the requester", () => {
    const copy = msg({ fromNode: 'ops', toNode: 'ship1', method: 'REQCopyFileFrom', methodArgs: ['/etc/hosts', 'node2', '/tmp/hosts'] });
    const origin = signOrigin(ops.proofs, originRequestOf(copy, 'ship1', 'REQCopyFileFrom'));
    const chunk = (dst: string, o = origin): Message =>
      msg({ id: `${copy.id}-c0`, fromNode: 'ship1', method: 'REQCopyFileTo', methodArgs: chunkArgs(dst, copy.id, 0, 0), origin: o });
    const d = deps();
    const res = admit(chunk('/tmp/hosts'), 'ship1', d);
    assert.equal(res.ok ? res.msg.replyToNode : res.error, 'ops');
    assert.deepEqual(d.asked, [{ from: 'ops', method: 'REQCopyFileTo', methodArgs: ['/tmp/hosts'] }]);
    const other = admit(chunk('/root/.ssh/authorized_keys'), 'ship1', deps());
    assert.equal(other.ok ? '' : other.error, 'copy refused: its origin proof is not a request for this copy');
    const bySomeoneElse = admit(chunk('/tmp/hosts'), 'ship9', deps());
    assert.equal(bySomeoneElse.ok ? '' : bySomeoneElse.error, 'copy refused: its origin proof is not a request for this copy');
    const unknown = admit(chunk('/tmp/hosts'), 'ship1', deps({ keyOf: () => undefined }));
    assert.equal(unknown.ok ? '' : unknown.error, 'copy refused: its origin ops is not known here');
  });

  it('takes the reply settings of a copy this node asked for from its own request, without the policy', () => {
    const copy = msg({ fromNode: 'node2', toNode: 'ship1', method: 'REQCopyFileFrom', methodArgs: ['/etc/hosts', 'node2', '/tmp/h'] });
    const own = { ...copy, replyMethod: 'REQToFile', directory: 'copies', fileName: 'h.log' };
    const chunk = msg({
      id: `${copy.id}-end`,
      fromNode: 'ship1',
      method: 'REQCopyFileTo',
      methodArgs: ['end', '/tmp/h', copy.id],
      directory: 'errorLog',
    });
    const d = deps({ sent: sentOf(own) });
    const res = admit(chunk, 'ship1', d);
    if (!res.ok) return assert.fail(res.error);
    assert.deepEqual(
      [res.msg.replyToNode, res.msg.replyMethod, res.msg.directory, res.msg.fileName],
      ['node2', 'REQToFile', 'copies', 'h.log'],
    );
    assert.deepEqual(d.asked, []);
    const other = admit(chunk, 'ship9', d);
    assert.equal(other.ok ? '' : other.error, 'copy refused: node2 asked ship1 for another copy');
  });

  it('asks the policy strictly about starting a method switched off on this node', () => {
    const d = deps({ switchedOff: (m) => m === 'REQCliCommand' });
    admit(msg({ method: 'REQOpProcessStart', methodArgs: ['REQCliCommand'] }), 'central', d);
    admit(msg({ method: 'REQOpProcessStart', methodArgs: ['REQHello'] }), 'central', d);
    assert.deepEqual(
      d.asked.map((r) => r.strict),
      [true, undefined],
    );
    const denied = admit(
      msg({ method: 'REQCliCommand' }),
      'ship9',
      deps({ decide: () => ({ allow: false, rule: 'default deny (no rule matched)' }) }),
    );
    assert.deepEqual(denied, {
      ok: false,
      error: 'denied by the policy of node2: ship9 may not REQCliCommand (rule: default deny (no rule matched))',
      rule: 'default deny (no rule matched)',
    });
  });

  // The findings of a review playing ship9's stolen key (2026-12-06): each was admitted before.
  it("binds an origin unknown here as its own first message would, never on the carrier's word", () => {
    // ship9 makes up a request of ops (unknown to node2), signs it with a key of its own and carries it.
    const initial = relayInitial(msg({ fromNode: 'ops', methodArgs: ['uptime'], relayViaNode: 'ship9' }), 'ops') as Message;
    const signed = { ...initial, origin: signOrigin(ship9.proofs, originRequestOf(initial, 'node2', 'REQCliCommand')) };
    const forged = relayOnward(relayToVia(signed, 'ops'), 'ship9');
    const unknownOps = (n: string): string | undefined => (n === 'ops' ? undefined : keys[n]);
    const refused = admit(forged, 'ship9', deps({ keyOf: unknownOps }));
    assert.equal(refused.ok ? '' : refused.error, 'relayed message refused: its origin ops is not known here');
    const bound: [string, string][] = [];
    const tofu = deps({ keyOf: unknownOps, bind: (n, k) => (bound.push([n, k]), true) });
    assert.equal(admit(forged, 'ship9', tofu).ok, true);
    assert.deepEqual(bound, [['ops', ship9.key]], 'the key is bound through the keyring (its mode, its rate, its conflicts)');
    // Central's own key is never learnt from a request another node carries, even on first use.
    const asCentral = relayInitial(msg({ fromNode: 'central', methodArgs: ['uptime'], relayViaNode: 'ship9' }), 'central') as Message;
    const signedAsCentral = { ...asCentral, origin: signOrigin(ship9.proofs, originRequestOf(asCentral, 'node2', 'REQCliCommand')) };
    const inCentralsName = relayOnward(relayToVia(signedAsCentral, 'central'), 'ship9');
    const never = admit(inCentralsName, 'ship9', deps({ keyOf: (n) => (n === 'central' ? undefined : keys[n]), bind: () => true }));
    assert.equal(never.ok ? '' : never.error, 'relayed message refused: its origin central is not known here');
  });

  it('refuses a REQRelay whose reply would run something on the relay node, or land in its reserved folders', () => {
    const at = (m: Message): string => {
      const res = admit(m, 'node1', deps({ nodeName: 'central' }));
      return res.ok ? 'admitted' : res.error;
    };
    assert.equal(
      at(relayed({ replyMethod: 'REQCliCommand' }).toVia),
      'relay refused: replyMethod may only be REQToFile, REQToFileAppend, REQToConsole, REQNone',
    );
    assert.equal(at(relayed({ directory: 'errorLog' }).toVia), 'REQRelay may not write into errorLog/, which only central writes');
    assert.equal(at(relayed({ replyMethod: 'REQToFileAppend' }).toVia), 'admitted');
  });

  it('asks the policy strictly about a relayed start of a method switched off here', () => {
    const initial = relayInitial(
      msg({ fromNode: 'node1', method: 'REQOpProcessStart', methodArgs: ['REQCliCommand'], relayViaNode: 'central' }),
      'node1',
    ) as Message;
    const signed = { ...initial, origin: signOrigin(node1.proofs, originRequestOf(initial, 'node2', 'REQOpProcessStart')) };
    const onward = relayOnward(relayToVia(signed, 'node1'), 'central');
    const d = deps({ switchedOff: (m) => m === 'REQCliCommand' });
    assert.equal(admit(onward, 'central', d).ok, true);
    assert.deepEqual(
      d.asked.map((r) => [r.method, r.via, r.strict]),
      [['REQOpProcessStart', 'central', true]],
    );
  });

  it('refuses a relayed message whose data is not the data its origin signed', () => {
    const { onward } = relayed({ data: ['echo signed'] });
    assert.equal(admit(onward, 'central', deps()).ok, true);
    const swapped = admit({ ...onward, data: ['rm -rf /'] }, 'central', deps());
    assert.equal(swapped.ok ? '' : swapped.error, 'relayed message refused: its data is not the data its origin signed');
  });
});
