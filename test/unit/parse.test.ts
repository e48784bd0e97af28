import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCompleteDocument, splitDocument } from '../../src/message/document.js';
import type { Message } from '../../src/message/message.js';
import { parseInput, type ParseContext, type ParseOutcome } from '../../src/message/parse.js';
import { METHOD_NAMES } from '../../src/methods/registry.js';

const ctx: ParseContext = {
  nodeName: 'central',
  methods: METHOD_NAMES,
  defaultAckTimeoutMs: 7_000,
  defaultRetries: 2,
  defaultMethodTimeoutMs: 9_000,
  now: () => 1_700_000_000_000,
};

const parse = (text: string): ParseOutcome[] => parseInput(Buffer.from(text), ctx);

/** The messages of outcomes that must all be accepted. */
function accepted(outcomes: ParseOutcome[]): Message[] {
  return outcomes.map((o) => {
    if (!o.ok) assert.fail(`expected message ${o.index} to be accepted, got: ${o.error}`);
    return o.message;
  });
}

function only(outcomes: ParseOutcome[]): ParseOutcome {
  assert.equal(outcomes.length, 1, JSON.stringify(outcomes));
  return outcomes[0] as ParseOutcome;
}

function errorOf(o: ParseOutcome | undefined): string {
  if (o === undefined) assert.fail('no outcome');
  if (o.ok) assert.fail(`expected an error for message ${o.index}, it was accepted`);
  return o.error;
}

const m = (toNode: string, extra = ''): string =>
  `{"toNode":"${toNode}","method":"REQCliCommand","methodArgs":["echo","${toNode}"]${extra}}`;

describe('parseInput: forms of input', () => {
  it('accepts trailing commas in arrays and objects, as the seed examples have them', () => {
    const msgs = accepted(parse(`[{"toNode":"ship1","method":"REQCliCommand","methodArgs":["echo","a",],},\n${m('ship2')},\n]`));
    assert.deepEqual(
      msgs.map((x) => [x.toNode, x.methodArgs]),
      [
        ['ship1', ['echo', 'a']],
        ['ship2', ['echo', 'ship2']],
      ],
    );
  });

  it('matches keys case-insensitively and maps them to the seed field names', () => {
    const [msg] = accepted(
      parse(
        '{"TONODE":"ship1","METHOD":"REQCliCommand","MethodArgs":["ls"],"acktimeout":3,"RETRIES":4,"ReplyMethod":"REQToFile","FILENAME":"f","Directory":"d"}',
      ),
    );
    assert.equal(msg?.toNode, 'ship1');
    assert.equal(msg?.method, 'REQCliCommand');
    assert.deepEqual(msg?.methodArgs, ['ls']);
    assert.equal(msg?.ackTimeoutMs, 3_000);
    assert.equal(msg?.retries, 4);
    assert.equal(msg?.replyMethod, 'REQToFile');
    assert.equal(msg?.fileName, 'f');
    assert.equal(msg?.directory, 'd');
  });

  it('accepts a YAML array of messages', () => {
    const yaml = '- toNode: ship1\n  method: REQCliCommand\n  methodArgs: [bash, -c, "echo one"]\n- toNode: ship2\n  method: REQPing\n';
    const msgs = accepted(parse(yaml));
    assert.deepEqual(
      msgs.map((x) => [x.toNode, x.method, x.methodArgs]),
      [
        ['ship1', 'REQCliCommand', ['bash', '-c', 'echo one']],
        ['ship2', 'REQPing', []],
      ],
    );
  });

  it('accepts a single object (JSON or YAML), not only an array', () => {
    assert.equal(accepted(parse(m('ship1')))[0]?.toNode, 'ship1');
    assert.equal(accepted(parse('toNode: ship3\nmethod: REQHello\n'))[0]?.toNode, 'ship3');
  });

  it('fills in the message: fromNode, default reply method, data as a list, createdMs from the clock', () => {
    const msg = accepted(parse('{"toNode":"ship1","method":"REQToFileAppend","data":"one line\\n"}'))[0] as Message;
    assert.equal(msg.fromNode, 'central');
    assert.equal(msg.replyMethod, 'REQToFileAppend');
    assert.deepEqual(msg.data, ['one line\n']);
    assert.equal(msg.isReply, false);
    assert.equal(msg.createdMs, 1_700_000_000_000);
    assert.match(msg.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  });
});

describe('parseInput: toNodes fan-out', () => {
  it('makes one job of a message for many nodes: the template and the names, for the node to expand', () => {
    const out = parse('{"toNodes":["ship1","ship2","ship3","ship4"],"method":"REQCliCommand","methodArgs":["uptime"]}');
    assert.equal(out.length, 1);
    const o = out[0];
    assert.ok(o?.ok);
    assert.deepEqual(o.job, { names: ['ship1', 'ship2', 'ship3', 'ship4'], where: {} });
    assert.equal(o.message.toNode, '');
    assert.deepEqual(o.message.methodArgs, ['uptime']);
  });

  it('takes "*", where, rollout and every as a job, and a single toNode as one message', () => {
    const star = only(
      parse('{"toNodes":["*"],"where":{"role":"ship"},"rollout":{"batch":"10%","maxFailures":0},"every":"1h","method":"REQCliCommand"}'),
    );
    assert.ok(star.ok);
    assert.deepEqual(star.job, { names: '*', where: { role: 'ship' }, rollout: { batch: '10%', maxFailures: 0 }, every: '1h' });
    const whereOnly = only(parse('{"where":{"site":"north"},"method":"REQCliCommand"}'));
    assert.ok(whereOnly.ok);
    assert.deepEqual(whereOnly.job?.names, '*');
    const one = only(parse('{"toNodes":["ship1"],"method":"REQCliCommand"}'));
    assert.ok(one.ok);
    assert.equal(one.job, undefined);
    assert.equal(one.message.toNode, 'ship1');
    assert.match(errorOf(only(parse('{"toNode":"*","method":"REQCliCommand"}'))), /for every node write "toNodes": \["\*"\]/);
    assert.match(
      errorOf(only(parse('{"toNodes":["a","b"],"relayViaNode":"central","method":"REQCliCommand"}'))),
      /relayViaNode goes with one toNode, not with a job/,
    );
  });

  it('gives ids that keep increasing across inputs', () => {
    const a = accepted(parse(m('ship1')))[0]?.id as string;
    const b = accepted(parse(m('ship1')))[0]?.id as string;
    assert.ok(a < b, `${a} < ${b}`);
  });

  it('rejects only the bad node name of a fan-out, naming it, and keeps the others', () => {
    const out = parse('{"toNodes":["ship1","bad.node","ship2"],"method":"REQCliCommand","methodArgs":["uptime"]}');
    assert.equal(out.length, 2);
    assert.deepEqual(out[0]?.ok && out[0].job?.names, ['ship1', 'ship2']);
    assert.match(errorOf(out[1]), /toNode "bad\.node" is not a valid node name/);
    assert.equal(!out[1]?.ok && out[1]?.toNode, 'bad.node');
    assert.ok(
      out.every((o) => o.index === 0),
      'all come from input element 0',
    );
  });
});

describe('parseInput: defaults and units', () => {
  it('uses the node defaults when ACKTimeout, retries and methodTimeout are absent', () => {
    const msg = accepted(parse(m('ship1')))[0] as Message;
    assert.equal(msg.ackTimeoutMs, 7_000);
    assert.equal(msg.retries, 2);
    assert.equal(msg.methodTimeoutMs, 9_000);
    assert.equal(msg.replyAckTimeoutMs, 0);
    assert.equal(msg.replyRetries, 0);
    assert.equal(msg.replyMethodTimeoutMs, 0);
  });

  it('converts seconds to milliseconds', () => {
    const msg = accepted(
      parse(m('ship1', ',"ACKTimeout":5,"retries":3,"methodTimeout":20,"replyACKTimeout":6,"replyRetries":4,"replyMethodTimeout":30')),
    )[0] as Message;
    assert.deepEqual(
      [msg.ackTimeoutMs, msg.retries, msg.methodTimeoutMs, msg.replyAckTimeoutMs, msg.replyRetries, msg.replyMethodTimeoutMs],
      [5_000, 3, 20_000, 6_000, 4, 30_000],
    );
  });

  it('replaces an ACKTimeout below 1 second with the default (a message is never sent without waiting for its ACK)', () => {
    for (const v of [0, -1, -30]) {
      const msg = accepted(parse(m('ship1', `,"ACKTimeout":${v}`)))[0] as Message;
      assert.equal(msg.ackTimeoutMs, 7_000, `ACKTimeout ${v}`);
    }
  });

  it('cuts timeouts longer than a timer can wait (about 24.8 days) to that, instead of letting them fire at once (found by the fuzzer)', () => {
    const msg = accepted(parse(m('ship1', ',"ACKTimeout":2147484,"methodTimeout":99999999,"replyMethodTimeout":3000000')))[0] as Message;
    assert.equal(msg.ackTimeoutMs, 0x7fffffff);
    assert.equal(msg.methodTimeoutMs, 0x7fffffff);
    assert.equal(msg.replyMethodTimeoutMs, 0x7fffffff);
  });

  it('keeps retries -1 (until delivered) and methodTimeout -1 (no limit)', () => {
    const msg = accepted(parse(m('ship1', ',"retries":-1,"methodTimeout":-1,"replyRetries":-1,"replyMethodTimeout":-1')))[0] as Message;
    assert.equal(msg.retries, -1);
    assert.equal(msg.methodTimeoutMs, -1);
    assert.equal(msg.replyRetries, -1);
    assert.equal(msg.replyMethodTimeoutMs, -1);
  });

  it('uses the defaults for retries 0 and methodTimeout 0', () => {
    const msg = accepted(parse(m('ship1', ',"retries":0,"methodTimeout":0')))[0] as Message;
    assert.equal(msg.retries, 2);
    assert.equal(msg.methodTimeoutMs, 9_000);
  });

  it('turns numbers and booleans in methodArgs, replyMethodArgs and data into strings', () => {
    const msg = accepted(
      parse('{"toNode":"ship1","method":"REQCliCommand","methodArgs":["sleep",5,2.5,true],"replyMethodArgs":[1],"data":[7,"x"]}'),
    )[0] as Message;
    assert.deepEqual(msg.methodArgs, ['sleep', '5', '2.5', 'true']);
    assert.deepEqual(msg.replyMethodArgs, ['1']);
    assert.deepEqual(msg.data, ['7', 'x']);
    const yaml = accepted(parse('toNode: ship1\nmethod: REQCliCommand\nmethodArgs: [sleep, 10]\n'))[0] as Message;
    assert.deepEqual(yaml.methodArgs, ['sleep', '10']);
  });
});

describe('parseInput: errors that say what to do', () => {
  it('names the closest method for an unknown method and replyMethod', () => {
    assert.match(
      errorOf(only(parse('{"toNode":"ship1","method":"REQnCliCommand"}'))),
      /^message 0: unknown method "REQnCliCommand" \(did you mean "REQCliCommand"\?\)$/,
    );
    assert.match(errorOf(only(parse('{"toNode":"ship1","method":"reqclicommand"}'))), /did you mean "REQCliCommand"/);
    assert.match(
      errorOf(only(parse('{"toNode":"ship1","method":"REQCliCommand","replyMethod":"REQToFileApend"}'))),
      /unknown replyMethod "REQToFileApend" \(did you mean "REQToFileAppend"\?\)/,
    );
    assert.doesNotMatch(errorOf(only(parse('{"toNode":"ship1","method":"completelyDifferent"}'))), /did you mean/);
  });

  it('refuses a YAML collection used as a key as an unknown field, without a warning on stderr', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      assert.match(
        errorOf(only(parse('? [toNode]\n: ship1\nmethod: REQNone\n'))),
        /^message 0: unknown field "\[ toNode \]" \(did you mean "toNode"\?\)$/,
      );
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });

  it('names the closest field for an unknown field', () => {
    assert.match(errorOf(only(parse(m('ship1', ',"fileNme":"x"')))), /^message 0: unknown field "fileNme" \(did you mean "fileName"\?\)$/);
    assert.match(errorOf(only(parse(m('ship1', ',"methodArg":["x"]')))), /unknown field "methodArg" \(did you mean "methodArgs"\?\)/);
    assert.match(errorOf(only(parse(m('ship1', ',"ackTimout":5')))), /unknown field "ackTimout" \(did you mean "ACKTimeout"\?\)/);
  });

  it('says a message without toNode or toNodes needs one', () => {
    assert.match(errorOf(only(parse('{"method":"REQCliCommand","methodArgs":["ls"]}'))), /no toNode or toNodes given/);
    assert.match(errorOf(only(parse('{"toNode":"","toNodes":[],"method":"REQCliCommand"}'))), /no toNode or toNodes given/);
  });

  it('names the field of the wrong type', () => {
    assert.match(errorOf(only(parse(m('ship1', ',"ACKTimeout":"five"')))), /^message 0: field ACKTimeout: .*expected number/);
    assert.match(errorOf(only(parse(m('ship1', ',"retries":1.5')))), /field retries: .*int/);
    assert.match(
      errorOf(only(parse('{"toNode":"ship1","method":"REQCliCommand","methodArgs":"ls -l"}'))),
      /field methodArgs: .*expected array/,
    );
    assert.match(errorOf(only(parse('{"toNode":"ship1"}'))), /method is required/);
  });

  it('rejects node names that would break the subject or the result path', () => {
    for (const bad of ['ship.1', 'ship1.REQCliCommand', '*', '>', 'a b', '../x']) {
      const o = only(parse(JSON.stringify({ toNode: bad, method: 'REQCliCommand' })));
      assert.match(errorOf(o), /is not a valid node name/, bad);
    }
  });

  it('says what is wrong with input that is not a message', () => {
    assert.match(errorOf(only(parse(''))), /^empty input/);
    assert.match(errorOf(only(parse(' \n\t '))), /^empty input/);
    assert.match(errorOf(only(parse('[]'))), /empty array/);
    assert.match(errorOf(only(parse('"just text"'))), /expected an object with toNode and method, got the text "just text"/);
    assert.match(errorOf(only(parse('42'))), /got a number/);
    assert.match(
      errorOf(only(parseInput(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xfe]), ctx))),
      /binary data|malformed input/,
    );
    assert.match(errorOf(only(parse('{"toNode": "ship1", "method": '))), /malformed input/);
  });
});

describe('parseInput: one broken element does not hide the others', () => {
  const missingQuote = '{"toNode":"ship2","method":"REQCliCommand,"methodArgs":["echo","broken"]}';

  const check = (text: string, expect: (string | RegExp)[]): void => {
    const out = parse(text);
    assert.equal(out.length, expect.length, JSON.stringify(out));
    expect.forEach((e, i) => {
      const o = out[i] as ParseOutcome;
      assert.equal(o.index, i);
      if (typeof e === 'string') {
        if (!o.ok) assert.fail(`message ${i}: ${o.error}`);
        assert.equal(o.message.toNode, e);
      } else assert.match(errorOf(o), e);
    });
  };

  it('a missing quote in the middle element', () => {
    check(`[${m('ship1')},${missingQuote},${m('ship3')}]`, ['ship1', /^message 1 is malformed/, 'ship3']);
  });

  it('a missing quote in the first element', () => {
    check(`[${missingQuote}, ${m('ship2')}, ${m('ship3')}, ${m('ship4')}]`, [/^message 0 is malformed/, 'ship2', 'ship3', 'ship4']);
  });

  it('a missing quote in the last element', () => {
    check(`[${m('ship1')}, ${m('ship2')}, ${missingQuote}]`, ['ship1', 'ship2', /^message 2 is malformed/]);
  });

  it('a missing quote, pretty-printed over several lines as in the seed examples', () => {
    const pretty = (s: string): string => JSON.stringify(JSON.parse(s), null, 2);
    const text = `[\n${pretty(m('ship1'))},\n{\n  "toNode": "ship2",\n  "method": "REQCliCommand,\n  "methodArgs": ["echo"]\n},\n${pretty(m('ship3'))}\n]\n`;
    check(text, ['ship1', /^message 1 is malformed/, 'ship3']);
  });

  it('a missing comma and a stray character in two elements, with good ones between', () => {
    const noComma = '{"toNode":"ship2" "method":"REQCliCommand"}';
    const stray = '{"toNode":"ship4","method":"REQCliCommand"}}';
    check(`[${m('ship1')}, ${noComma}, ${m('ship3')}, ${stray}, ${m('ship5')}]`, [
      'ship1',
      /^message 1 is malformed/,
      'ship3',
      /^message 3 is malformed/,
      'ship5',
    ]);
  });

  it('an element that is valid JSON but not a valid message', () => {
    check(`[${m('ship1')}, {"toNode":"ship2","method":"REQNope"}, 17, ${m('ship4')}]`, [
      'ship1',
      /unknown method "REQNope"/,
      /got a number/,
      'ship4',
    ]);
  });

  it('an array whose closing bracket is missing keeps its complete elements', () => {
    check(`[${m('ship1')}, ${m('ship2')}`, ['ship1', 'ship2']);
  });

  it('text after the end of the array is reported, not silently dropped', () => {
    check(`[${m('ship1')}] and then some`, ['ship1', /^message 1 is malformed: unexpected text after the end of the array/]);
    check(`[${m('ship1')}][${m('ship2')}]`, ['ship1', /^message 1 is malformed: unexpected text after the end of the array/]);
  });

  it('does not split inside strings that hold brackets, braces or commas', () => {
    const tricky = JSON.stringify({ toNode: 'ship1', method: 'REQCliCommand', methodArgs: ['bash', '-c', 'echo "}, {" ] [ , \'x\''] });
    const out = parse(`[${tricky}, ${missingQuote}, ${m('ship3')}]`);
    assert.equal(out.length, 3, JSON.stringify(out));
    assert.deepEqual(out[0]?.ok && out[0].message.methodArgs, ['bash', '-c', 'echo "}, {" ] [ , \'x\'']);
    assert.equal(out[1]?.ok, false);
    assert.equal(out[2]?.ok && out[2].message.toNode, 'ship3');
  });
});

describe('splitDocument and isCompleteDocument', () => {
  it('splits arrays into elements and keeps a single value whole', () => {
    assert.deepEqual(splitDocument('[1, 2]'), [
      { index: 0, value: 1 },
      { index: 1, value: 2 },
    ]);
    assert.deepEqual(splitDocument('{"a":1}'), [{ index: 0, value: { a: 1 } }]);
  });

  it('calls a document complete only when all of it parses (a socket client may pause mid-array)', () => {
    assert.equal(isCompleteDocument(`[${m('ship1')}, ${m('ship2')}]`), true);
    assert.equal(isCompleteDocument(m('ship1')), true);
    assert.equal(isCompleteDocument(`[${m('ship1')}, ${m('ship2')}`), false, 'unclosed array');
    assert.equal(isCompleteDocument(`[${m('ship1')}, ${m('ship2')},`), false, 'unclosed array with a comma');
    assert.equal(isCompleteDocument(`[${m('ship1')}, {"toNode":"sh`), false, 'cut inside an element');
    assert.equal(isCompleteDocument(''), false);
  });
});
